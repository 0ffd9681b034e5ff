#!/usr/bin/env python3
"""Toy external simulator for the tests of simulators/external_process.

Reads one request per line on stdin and answers one line on stdout:
  array protocol:  [t1, ..., tP]                          -> [2*t1, ..., 2*tP]
  object protocol: {"theta": [...], "seed": S, "index": i, "id": k}
                       -> {"id": k, "y": [2*t1 + 0.1*e1, ...]} with e ~ N(0, 1) drawn from
                   random.Random(S), so that the answer depends on (theta, S) alone.
Options: --with-index appends i, --with-seed appends S % 1000003 (object protocol); --linger
keeps running after stdin has closed (a worker that ignores the request to stop).
The first parameter value selects a misbehaviour:
  13 crash (exit status 3, after a message on stderr)   7 hang     5 garbage line
   9 {"error": ...} reply                              11 null (NaN) as first value
  17 killed by SIGSEGV                                  3 a reply of the wrong length
  19 an answer without its newline, then a hang       23 a good answer, then exit(0)
  29 invalid UTF-8 on stderr, then exit status 4      31 [NaN, -Infinity] (Python's non-JSON)
  37 a stale line before the answer, both in one write (array: [111, 111]; object: the previous id)
"""
import json
import os
import random
import signal
import sys
import time


def main():
    with_index = "--with-index" in sys.argv
    with_seed = "--with-seed" in sys.argv
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        message = json.loads(line)
        request_id = message.get("id") if isinstance(message, dict) else None

        def reply(answer):
            return json.dumps({"id": request_id, **answer} if request_id is not None else answer.get("y", answer))

        if isinstance(message, dict):
            theta = message["theta"]
            rng = random.Random(message["seed"])
            y = [2.0 * t + 0.1 * rng.gauss(0.0, 1.0) for t in theta]
            if with_index:
                y.append(message["index"])
            if with_seed:
                y.append(message["seed"] % 1000003)
        else:
            theta = message
            y = [2.0 * t for t in theta]
        first = theta[0]
        if first == 13:
            sys.stderr.write("toy_sim: cannot simulate theta=13, giving up\n")
            sys.stderr.flush()
            sys.exit(3)
        if first == 29:
            sys.stderr.buffer.write(b"bad bytes \xff\xfe\x01 end\n")
            sys.stderr.flush()
            sys.exit(4)
        if first == 7:
            sys.stderr.write("toy_sim: thinking very hard about theta=7\n")
            sys.stderr.flush()
            time.sleep(3600)
        if first == 19:
            sys.stdout.write(reply({"y": y}))
            sys.stdout.flush()
            time.sleep(3600)
        if first == 5:
            print("this is not json at all", flush=True)
            continue
        if first == 9:
            print(reply({"error": "negative rate"}), flush=True)
            continue
        if first == 37:
            if request_id is not None:
                stale = json.dumps({"id": request_id - 1, "y": [111.0] * len(y)})
            else:
                stale = json.dumps([111.0] * len(y))
            sys.stdout.write(stale + "\n" + reply({"y": y}) + "\n")
            sys.stdout.flush()
            continue
        if first == 11:
            y[0] = None
        if first == 17:
            os.kill(os.getpid(), signal.SIGSEGV)
        if first == 3:
            y = y + [0.0]
        if first == 31:
            y = [float("nan"), float("-inf")]
        print(reply({"y": y}), flush=True)
        if first == 23:
            sys.exit(0)
    if "--linger" in sys.argv:
        time.sleep(3600)


if __name__ == "__main__":
    main()
