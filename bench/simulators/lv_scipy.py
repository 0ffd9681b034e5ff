#!/usr/bin/python3
"""The sbibm Lotka-Volterra simulator (data/sbibm/TASKS.md section 6) in NumPy/SciPy, written the way a
Python user would: scipy.integrate.solve_ivp (RK45, rtol = atol = 1e-8) over t in [0, 20], solution saved
at t = 0, 0.1, ..., 20 and subsampled every 21st point, clipped to [1e-10, 1e4], log-normal noise with
sd 0.1; one simulation at a time.

Used by run.sh as the baseline for sbi_simulator_bench lv-times on the same theta draws (a CSV with
columns alpha,beta,gamma,delta written by `sbi_simulator_bench lv-draws`).

solve_ivp has no step cap and can spend minutes on one hard draw, so each simulation gets a wall-clock
limit (--time-limit, seconds): the right-hand side checks the clock and raises when it is exceeded. Such
a simulation counts as a timeout (a failure); its time in the total is the time it had used when it was
stopped (about the limit), so the SciPy total is a lower bound of what an unlimited run would take.
The limit is on the thread's CPU time by default (--limit-clock cpu), so that other processes competing
for the cores do not turn slow-but-finishing draws into timeouts; --limit-clock wall limits wall time.
The clock is read every 32 right-hand-side calls (about 0.1 ms of work), not on every call.

Each simulation is timed by both wall clock (time.perf_counter) and the thread's CPU time
(time.thread_time); the C++ side reports the same two.

Run with Debian's interpreter: /usr/bin/python3 bench/simulators/lv_scipy.py --draws draws.csv
"""
import argparse
import csv
import json
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp


class TimeLimitExceeded(Exception):
    pass


def lotka_volterra(theta, rng, time_limit=None, noise=True, clock=time.thread_time):
    """One simulation: returns the 20 observed values (prey at t = 0, 2.1, ..., 18.9, then predator)."""
    alpha, beta, gamma, delta = theta
    deadline = None if time_limit is None else clock() + time_limit
    calls = [0]

    def rhs(t, z):
        if deadline is not None:
            calls[0] += 1
            if calls[0] % 32 == 0 and clock() > deadline:
                raise TimeLimitExceeded()
        x, y = z
        return [alpha * x - beta * x * y, -gamma * y + delta * x * y]

    t_eval = np.linspace(0.0, 20.0, 201)
    sol = solve_ivp(rhs, (0.0, 20.0), [30.0, 1.0], method="RK45", t_eval=t_eval, rtol=1e-8, atol=1e-8)
    if not sol.success or sol.y.shape[1] != 201:
        return np.full(20, np.nan), sol.nfev, "failed"
    values = sol.y[:, ::21].reshape(-1)  # X(t_0..t_9), Y(t_0..t_9)
    if not noise:
        return values, sol.nfev, "ok"
    values = np.clip(values, 1e-10, 1e4)
    return values * np.exp(0.1 * rng.standard_normal(20)), sol.nfev, "ok"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", required=True, help="CSV of theta draws (header alpha,beta,gamma,delta)")
    parser.add_argument("--time-limit", type=float, default=2.0, help="wall seconds per simulation (default 2)")
    parser.add_argument("--limit-clock", choices=["cpu", "wall"], default="cpu",
                        help="clock of the time limit: thread CPU time (default) or wall time")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-sim", help="write per-simulation seconds, status, nfev to this CSV")
    parser.add_argument("--solutions", help="write the noise-free solutions (untimed second pass) to this CSV")
    parser.add_argument("--json", help="write the summary to this JSON file")
    args = parser.parse_args()

    theta = np.loadtxt(args.draws, delimiter=",", skiprows=1, ndmin=2, comments="#")
    rng = np.random.default_rng(args.seed)

    clock = time.thread_time if args.limit_clock == "cpu" else time.perf_counter
    # Warm-up (imports, first-call overheads), not timed.
    lotka_volterra(theta[0], rng, time_limit=args.time_limit, clock=clock)

    times = np.empty(len(theta))
    cpu_times = np.empty(len(theta))
    status = []
    nfev = np.zeros(len(theta), dtype=np.int64)
    wall_start = time.perf_counter()
    for i, th in enumerate(theta):
        start, cpu_start = time.perf_counter(), time.thread_time()
        try:
            _, nfev[i], s = lotka_volterra(th, rng, time_limit=args.time_limit, clock=clock)
        except TimeLimitExceeded:
            s = "timeout"
        times[i] = time.perf_counter() - start
        cpu_times[i] = time.thread_time() - cpu_start
        status.append(s)
        if (i + 1) % 100 == 0:
            print(f"  scipy: {i + 1}/{len(theta)} draws, {time.perf_counter() - wall_start:.1f} s", file=sys.stderr)
    wall = time.perf_counter() - wall_start

    timeouts = status.count("timeout")
    failed = status.count("failed")
    ok = np.array([s == "ok" for s in status])
    summary = {
        "n": int(len(theta)),
        "time_limit_seconds": args.time_limit,
        "time_limit_clock": args.limit_clock,
        "median_seconds": float(np.median(times)),
        "median_seconds_ok_only": float(np.median(times[ok])) if ok.any() else None,
        "total_seconds": float(times.sum()),
        "total_seconds_ok_only": float(times[ok].sum()),
        "cpu_median_seconds": float(np.median(cpu_times)),
        "cpu_total_seconds": float(cpu_times.sum()),
        "wall_seconds": wall,
        "timeouts": timeouts,
        "failed": failed,
        "max_seconds": float(times.max()),
        "median_nfev_ok": float(np.median(nfev[ok])) if ok.any() else None,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }

    if args.per_sim:
        with open(args.per_sim, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["seconds", "cpu_seconds", "status", "nfev"])
            for i in range(len(theta)):
                w.writerow([repr(float(times[i])), repr(float(cpu_times[i])), status[i], int(nfev[i])])
    if args.solutions:
        sol = np.full((len(theta), 20), np.nan)
        for i, th in enumerate(theta):
            if status[i] == "ok":
                sol[i], _, _ = lotka_volterra(th, rng, time_limit=None, noise=False)
        header = ",".join(f"data_{k + 1}" for k in range(20))
        np.savetxt(args.solutions, sol, delimiter=",", header=header, comments="", fmt="%.17g")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)

    print(f"scipy lotka_volterra on {len(theta)} draws from {args.draws} "
          f"(time limit {args.time_limit} s {args.limit_clock} time per simulation)")
    print(f"  one at a time, wall: median {summary['median_seconds']:.4g} s/sim, total {summary['total_seconds']:.4g} s")
    print(f"  one at a time, CPU:  median {summary['cpu_median_seconds']:.4g} s/sim, total {summary['cpu_total_seconds']:.4g} s")
    print(f"  timeouts {timeouts}, solver failures {failed}")


if __name__ == "__main__":
    main()
