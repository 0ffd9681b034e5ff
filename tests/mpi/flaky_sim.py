#!/usr/bin/env python3
"""External simulator for the MPI tests and benchmarks (object protocol; simulators/external_process.hpp).

y = theta + 0.1 * noise (two values), noise from random.Random(seed), so a row depends on its seed
alone. It fails (an {"error": ...} answer) when theta_1 > 1.5, so every failure policy is exercised.

Environment (optional):
  FLAKY_SLEEP_MS   sleep this long per simulation (a latency-bound simulator, for bench/mpi)
  FLAKY_KILL_AT    when the simulation index equals this and the file FLAKY_KILL_MARKER does not
                   exist: create it and kill the process that started this worker (an sbi rank) with
                   SIGKILL, as a crashed node would; the marker keeps it from happening twice
"""
import json
import os
import random
import signal
import sys
import time

SLEEP = float(os.environ.get("FLAKY_SLEEP_MS", "0")) / 1000.0
KILL_AT = int(os.environ.get("FLAKY_KILL_AT", "-1"))
MARKER = os.environ.get("FLAKY_KILL_MARKER", "")


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        theta, seed, index = request["theta"], request["seed"], request["index"]
        if index == KILL_AT and MARKER and not os.path.exists(MARKER):
            open(MARKER, "w").close()
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(5)
        if SLEEP > 0:
            time.sleep(SLEEP)
        if theta[0] > 1.5:
            answer = {"error": "theta_1 = %g is above 1.5" % theta[0]}
        else:
            rng = random.Random(seed)
            answer = {"y": [t + 0.1 * rng.gauss(0.0, 1.0) for t in theta]}
        answer["id"] = request["id"]
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
