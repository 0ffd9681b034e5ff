#!/usr/bin/python3
"""C2ST agreement between sbi++ (`sbi diagnose --json`) and scikit-learn (/work/shared/bench/c2st.py).

Usage (from the repository top, after building the `sbi` program):
    /usr/bin/python3 bench/c2st/compare.py --sbi build-c2st/sbi [--seeds 1] [--out /tmp/c2st_pairs]

Builds the sample-set pairs below from data/sbibm (derived sets are written to --out with a fixed
NumPy seed), runs both implementations on each pair with the same C2ST seed, and prints a Markdown
table (both values, difference, wall times) for bench/RESULTS.md. Debian's python3-sklearn is used
through /usr/bin/python3.

Pairs (reference = label 0, samples = label 1, first 10,000 rows of each):
  two_moons     obs_1 reference vs obs_2 reference (different posteriors)
  gauss_linear  obs_1 reference vs exact posterior draws N(x_o/2, 0.05 I_10) (same posterior)
  slcp          obs_1 reference vs the same file shifted by 0.2 sd in every parameter
  lotka_volterra obs_1 reference vs the same file widened by 20 % about its mean
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SBIBM = os.path.join(ROOT, "data", "sbibm")
REFERENCE_SCRIPT = "/work/shared/bench/c2st.py"


def ref_path(task, obs):
    return os.path.join(SBIBM, task, f"obs_{obs}", "reference_posterior_samples.csv")


def read(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    return rows[0], np.asarray(rows[1:], dtype=np.float64)


def write(path, header, values):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in values:
            w.writerow([repr(float(v)) for v in row])


def make_pairs(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261127)
    pairs = [("two_moons obs_1 vs obs_2", ref_path("two_moons", 1), ref_path("two_moons", 2))]

    header, _ = read(ref_path("gaussian_linear", 1))
    _, x_o = read(os.path.join(SBIBM, "gaussian_linear", "obs_1", "observation.csv"))
    exact = x_o[0] / 2 + np.sqrt(0.05) * rng.standard_normal((10000, 10))
    p = os.path.join(out, "gaussian_linear_exact.csv")
    write(p, header, exact)
    pairs.append(("gaussian_linear obs_1 vs exact N(x_o/2, 0.05 I)", ref_path("gaussian_linear", 1), p))

    header, slcp = read(ref_path("slcp", 1))
    p = os.path.join(out, "slcp_shifted.csv")
    write(p, header, slcp + 0.2 * slcp.std(axis=0, ddof=1))
    pairs.append(("slcp obs_1 vs itself + 0.2 sd", ref_path("slcp", 1), p))

    header, lv = read(ref_path("lotka_volterra", 1))
    p = os.path.join(out, "lotka_volterra_widened.csv")
    mean = lv.mean(axis=0)
    write(p, header, mean + 1.2 * (lv - mean))
    pairs.append(("lotka_volterra obs_1 vs widened 1.2x", ref_path("lotka_volterra", 1), p))
    return pairs


def run_ours(sbi, reference, samples, seed):
    t0 = time.perf_counter()
    out = subprocess.run([sbi, "diagnose", samples, "--reference", reference, "--json", "--seed", str(seed)],
                         check=True, capture_output=True, text=True).stdout
    dt = time.perf_counter() - t0
    j = json.loads(out)
    return j["c2st"], j["c2st_folds"], dt, j.get("c2st_seconds", dt)


def run_sklearn(reference, samples, seed):
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/python3", REFERENCE_SCRIPT, reference, samples, "--seed", str(seed)],
                         check=True, capture_output=True, text=True).stdout
    dt = time.perf_counter() - t0
    j = json.loads(out.strip().splitlines()[-1])
    return j["c2st"], j["folds"], dt, j["seconds"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sbi", default=os.path.join(ROOT, "build-c2st", "sbi"), help="the sbi program")
    ap.add_argument("--seeds", default="1", help="comma-separated C2ST seeds (each run by both)")
    ap.add_argument("--out", default="/tmp/sbi_c2st_pairs", help="folder for the derived sample sets")
    ap.add_argument("--only", default="", help="run only pairs whose label contains one of these comma-separated texts")
    ap.add_argument("--json", default="", help="also append one JSON line per run to this file")
    ap.add_argument("--sklearn-only", action="store_true", help="run only scikit-learn (fills --cache)")
    ap.add_argument("--cache", default="", help="JSON-lines file of scikit-learn results to reuse and extend")
    args = ap.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",")]
    cache = {}
    if args.cache and os.path.exists(args.cache):
        with open(args.cache) as f:
            for line in f:
                if line.strip():
                    entry = json.loads(line)
                    cache[entry["key"]] = tuple(entry["result"])
    print("| pair | seed | sbi++ C2ST | sklearn C2ST | difference | sbi++ s | sklearn s |")
    print("|---|---|---|---|---|---|---|")
    for label, reference, samples in make_pairs(args.out):
        if args.only and not any(part in label for part in args.only.split(",")):
            continue
        for seed in seeds:
            key = f"{label}|{seed}"
            if key in cache:
                theirs, theirs_folds, theirs_wall, theirs_c2st_s = cache[key]
            else:
                theirs, theirs_folds, theirs_wall, theirs_c2st_s = run_sklearn(reference, samples, seed)
                if args.cache:
                    with open(args.cache, "a") as f:
                        f.write(json.dumps({"key": key, "result": [theirs, theirs_folds, theirs_wall, theirs_c2st_s]}) + "\n")
            if args.sklearn_only:
                print(f"| {label} | {seed} | - | {theirs:.4f} | - | - | {theirs_c2st_s:.1f} |", flush=True)
                continue
            ours, ours_folds, ours_wall, ours_c2st_s = run_ours(args.sbi, reference, samples, seed)
            print(f"| {label} | {seed} | {ours:.4f} | {theirs:.4f} | {ours - theirs:+.4f} | "
                  f"{ours_c2st_s:.1f} | {theirs_c2st_s:.1f} |", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps({"pair": label, "seed": seed, "sbi": ours, "sbi_folds": ours_folds,
                                        "sbi_seconds": ours_c2st_s, "sbi_wall": ours_wall, "sklearn": theirs,
                                        "sklearn_folds": theirs_folds, "sklearn_seconds": theirs_c2st_s,
                                        "sklearn_wall": theirs_wall}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
