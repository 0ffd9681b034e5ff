#!/usr/bin/python3
"""Side-by-side table of sbi_simulator_bench lv-times and lv_scipy.py on the same draws (used by run.sh).

usage: compare.py OUT_DIR   (reads lv_cpp.json, lv_scipy.json, lv_cpp_per_sim.csv, lv_scipy_per_sim.csv,
                              lv_cpp_solutions.csv, lv_scipy_solutions.csv there; writes lv_compare.json)
"""
import csv
import json
import os
import sys

import numpy as np

TARGET_MEDIAN, TARGET_TOTAL, TARGET_SPEEDUP = 500.0, 1000.0, 1.8


def main():
    out = sys.argv[1]
    cpp = json.load(open(os.path.join(out, "lv_cpp.json")))
    py = json.load(open(os.path.join(out, "lv_scipy.json")))
    c = cpp["one_at_a_time"]

    rows = [
        ("median s/sim, wall", c["median_seconds"], py["median_seconds"], TARGET_MEDIAN),
        ("total s, wall", c["total_seconds"], py["total_seconds"], TARGET_TOTAL),
        ("median s/sim, CPU", c["cpu_median_seconds"], py["cpu_median_seconds"], TARGET_MEDIAN),
        ("total s, CPU", c["cpu_total_seconds"], py["cpu_total_seconds"], TARGET_TOTAL),
    ]
    print(f"lotka_volterra, {cpp['n']} prior draws, one simulation at a time on one thread "
          f"(C++: median of {cpp['repeats']} passes; SciPy: one pass, limit {py['time_limit_seconds']} s "
          f"{py['time_limit_clock']} time per simulation)")
    print(f"{'':22s} {'sbi++':>12s} {'SciPy':>12s} {'ratio':>10s} {'target':>8s}  met?")
    result = {"rows": []}
    for name, a, b, target in rows:
        ratio = b / a
        met = ratio >= target
        print(f"{name:22s} {a:12.4g} {b:12.4g} {ratio:9.0f}× {target:7.0f}×  {'yes' if met else 'NO'}")
        result["rows"].append({"what": name, "sbi": a, "scipy": b, "ratio": ratio, "target": target, "met": met})

    r = cpp["runner"]
    t1, t2 = r["1"]["seconds_per_pass_median"], r["2"]["seconds_per_pass_median"]
    b1, b2 = r["1"]["seconds_per_pass_best"], r["2"]["seconds_per_pass_best"]
    speedup, speedup_best = t1 / t2, b1 / b2
    print(f"{'2 threads vs 1 (sbi++)':22s} {t1:12.4g} {t2:12.4g} {speedup:9.2f}× {TARGET_SPEEDUP:7.1f}×  "
          f"{'yes' if speedup >= TARGET_SPEEDUP else 'NO'}   (s per pass over the draws via simulate_given, "
          f"1 thread vs 2 threads, median of {cpp['repeats']}; best-of: {speedup_best:.2f}×)")
    result["speedup_2_threads"] = {"t1": t1, "t2": t2, "speedup": speedup, "speedup_best_of": speedup_best,
                                   "target": TARGET_SPEEDUP, "met": speedup >= TARGET_SPEEDUP}

    print(f"SciPy: {py['timeouts']} timeouts, {py['failed']} solver failures; sbi++: {cpp['failed']} failed draws "
          f"(step cap); sbi++ steps median {cpp['steps']['median']:.0f}, p99 {cpp['steps']['p99']:.0f}, "
          f"max {cpp['steps']['max']:.0f}; SciPy median nfev {py['median_nfev_ok']}")

    # Per-draw: which draws are slow on each side.
    cs = list(csv.DictReader(open(os.path.join(out, "lv_cpp_per_sim.csv"))))
    ps = list(csv.DictReader(open(os.path.join(out, "lv_scipy_per_sim.csv"))))
    timeouts = [i for i, p in enumerate(ps) if p["status"] != "ok"]
    if timeouts:
        print("draws SciPy did not finish (index: SciPy status, sbi++ steps and ms):")
        for i in timeouts[:10]:
            print(f"  {i}: {ps[i]['status']}, {float(cs[i]['steps']):.0f} steps, {1e3 * float(cs[i]['seconds']):.3g} ms")
    result["scipy_unfinished"] = [{"index": i, "status": ps[i]["status"], "sbi_steps": float(cs[i]["steps"]),
                                   "sbi_seconds": float(cs[i]["seconds"])} for i in timeouts]

    # Agreement of the noise-free solutions where both succeeded.
    a = np.loadtxt(os.path.join(out, "lv_cpp_solutions.csv"), delimiter=",", skiprows=1, ndmin=2)
    b = np.loadtxt(os.path.join(out, "lv_scipy_solutions.csv"), delimiter=",", skiprows=1, ndmin=2)
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if both.any():
        ca, cb = np.clip(a[both], 1e-10, 1e4), np.clip(b[both], 1e-10, 1e4)
        rel = np.abs(np.log(ca) - np.log(cb)).max(axis=1)  # max |log ratio| per draw (after the clip)
        frac = float(np.mean(rel < 0.01))
        print(f"noise-free outputs (after the clip), {both.sum()} draws where both finished: max |log ratio| per draw "
              f"median {np.median(rel):.2g}, p99 {np.quantile(rel, 0.99):.2g}, max {rel.max():.2g}; "
              f"{100 * frac:.1f}% of draws agree within 1% (the noise sd is 10%)")
        result["agreement"] = {"draws": int(both.sum()), "median": float(np.median(rel)),
                               "p99": float(np.quantile(rel, 0.99)), "max": float(rel.max()), "within_1pct": frac}
    json.dump(result, open(os.path.join(out, "lv_compare.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
