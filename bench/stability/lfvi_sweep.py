#!/usr/bin/env python3
"""LFVI on sbibm two_moons (observation 1): C2ST against the reference posterior as a function of the
generator's learning rate, with and without the stability regularisers (bench/stability/RESULTS.md).

Runs `sbi infer` (one spec per configuration and learning rate, written to OUT/specs) and
`sbi diagnose --json`, and writes OUT/lfvi_sweep.csv and OUT/lfvi_sweep.png (gnuplot).
Usage (repository root): python3 bench/stability/lfvi_sweep.py [--sbi build/sbi] [--out bench/stability/lfvi]
"""
import argparse
import csv
import json
import os
import subprocess
import sys

REFERENCE_DEFAULT = "/work/shared/data/sbibm/two_moons/obs_1/reference_posterior_samples.csv"
GAMMA0 = 1.0 / (7 * 1.0 + 1.0)  # α = 1 (per-layer bound 1), β2 = 1
MULTIPLES = [1e-3, 1e-2, 1e-1, 1.0, 10.0]  # learning rate = multiple · γ0 for every configuration

# Configuration → extra "inference" keys. "default_gp" is LFVI's default discriminator
# regulariser (zero-centred gradient penalty λ = 1 on real points, every 4th step).
CONFIGS = {
    "none": {"spectral_norm": False, "gradient_penalty": 0},
    "default_gp": {"spectral_norm": False, "gradient_penalty": 1, "gradient_penalty_mode": "zero_centred"},
    "sn+rkhs": {"spectral_norm": True, "spectral_bound": 1.0, "gradient_penalty": 0, "rkhs_beta2": 1.0},
    # Each regulariser alone (run with --configs sn,rkhs --out bench/stability/lfvi_single).
    "sn": {"spectral_norm": True, "spectral_bound": 1.0, "gradient_penalty": 0},
    "rkhs": {"spectral_norm": False, "gradient_penalty": 0, "rkhs_beta2": 1.0},
}


def gamma0_of(config):
    """The γ0 that LFVI computes for a configuration (lfvi_gamma0): β2 = 0 without the RKHS penalty."""
    return 1.0 / 7.0 if config == "sn" else GAMMA0


def spec_for(config, multiple, simulations, iterations):
    inference = {
        "method": "lfvi", "simulations": simulations, "max_iterations": iterations, "min_iterations": iterations,
        "eval_every": 100, "generator": {"hidden": [64, 64]}, "discriminator": {"hidden": [64, 64]}, "seed": 1,
    }
    inference.update(CONFIGS[config])
    if config in ("sn+rkhs", "sn"):
        inference["generator_learning_rate_gamma0_multiple"] = multiple  # exercised through the γ0 option
    else:
        inference["generator"]["learning_rate"] = multiple * GAMMA0
    return {
        "description": f"two_moons obs 1, LFVI stability sweep: {config}, learning rate {multiple:g}·γ0",
        "simulator": {"name": "two_moons", "options": {}},
        "prior": [{"name": "theta_1", "dist": "uniform", "low": -1.0, "high": 1.0},
                  {"name": "theta_2", "dist": "uniform", "low": -1.0, "high": 1.0}],
        "observation": [-0.6396706, 0.16234657],
        "seed": 1,
        "simulation": {"failure_policy": "drop"},
        "inference": inference,
        "output": {"samples": 5000},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sbi", default="build/sbi")
    parser.add_argument("--out", default="bench/stability/lfvi")
    parser.add_argument("--reference", default=REFERENCE_DEFAULT)
    parser.add_argument("--simulations", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from OUT/lfvi_sweep.csv")
    parser.add_argument("--configs", default="none,default_gp,sn+rkhs", help="comma-separated, from " + ",".join(CONFIGS))
    args = parser.parse_args()
    args.configs = args.configs.split(",")
    for c in args.configs:
        if c not in CONFIGS:
            parser.error(f"unknown configuration {c}")
    if args.plot_only:
        with open(os.path.join(args.out, "lfvi_sweep.csv")) as f:
            rows = [{k: (v if k == "config" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]
        plot(args, rows)
        return
    os.makedirs(os.path.join(args.out, "specs"), exist_ok=True)
    work = os.path.join(args.out, "runs")
    rows = []
    for config in args.configs:
        for multiple in MULTIPLES:
            name = f"{config}_{multiple:g}"
            spec_path = os.path.join(args.out, "specs", name + ".json")
            with open(spec_path, "w") as f:
                json.dump(spec_for(config, multiple, args.simulations, args.iterations), f, indent=1)
            run_dir = os.path.join(work, name)
            subprocess.run([args.sbi, "infer", spec_path, "-o", run_dir, "-q", "--threads", "1", "-n", str(args.samples)],
                           check=True, stdout=subprocess.DEVNULL)
            diag = subprocess.run([args.sbi, "diagnose", os.path.join(run_dir, "samples.csv"), "-r", args.reference,
                                   "--n", str(args.samples), "--threads", "1", "--json"],
                                  check=True, capture_output=True, text=True)
            d = json.loads(diag.stdout)
            with open(os.path.join(run_dir, "training_curve.csv")) as f:
                curve = list(csv.DictReader(f))
            mmds = [float(r["validation_mmd2"]) for r in curve]
            finite = [m for m in mmds if m == m and abs(m) != float("inf")]
            row = {"config": config, "gamma0_multiple": multiple, "learning_rate": multiple * gamma0_of(config), "c2st": d["c2st"],
                   "mmd2_vs_reference": d["mmd2"], "best_validation_mmd2": min(finite) if finite else float("nan"),
                   "final_validation_mmd2": mmds[-1] if mmds else float("nan"),
                   "train_seconds": float(curve[-1]["seconds"]) if curve else float("nan")}
            rows.append(row)
            print(f"{config:10s} lr {row['learning_rate']:.3g}: C2ST {row['c2st']:.4f}, validation MMD² best {row['best_validation_mmd2']:.4g} "
                  f"final {row['final_validation_mmd2']:.4g}", file=sys.stderr, flush=True)
            # The table is not kept (it is re-simulated from the seed); the samples and curve are.
            table = os.path.join(run_dir, "table.sbt")
            if os.path.exists(table):
                os.remove(table)
    out_csv = os.path.join(args.out, "lfvi_sweep.csv")
    tmp = out_csv + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out_csv)
    plot(args, rows)


def plot(args, rows):
    """One data block per configuration; gnuplot writes OUT/lfvi_sweep.png."""
    dat = os.path.join(args.out, "lfvi_sweep.dat")
    with open(dat, "w") as f:
        for config in args.configs:
            f.write(f"# {config}\n")
            for r in rows:
                if r["config"] == config:
                    f.write(f"{r['learning_rate']} {r['c2st']} {r['final_validation_mmd2']}\n")
            f.write("\n\n")
    png = os.path.join(args.out, "lfvi_sweep.png")
    plots_c2st = ", ".join(f"'{dat}' index {i} using 1:2 with linespoints lc {i+1} pt 7 title '{c.replace('_', '-')}'" for i, c in enumerate(args.configs))
    plots_mmd = ", ".join(f"'{dat}' index {i} using 1:3 with linespoints lc {i+1} pt 7 title '{c.replace('_', '-')}'" for i, c in enumerate(args.configs))
    script = f"""set terminal pngcairo size 1100,430 font ',10'
set output '{png}.tmp.png'
set multiplot layout 1,2 title 'LFVI on two\\_moons obs 1: {args.simulations} simulations, {args.iterations} generator steps (Adam), γ0 = 1/8'
set logscale x
set format x '10^{{%L}}'
set xlabel 'generator learning rate'
set grid
set key top left
set ylabel 'C2ST (kept generator; 0.5 = perfect)'
set yrange [0.5:1.02]
plot {plots_c2st}
set ylabel 'validation joint MMD² at the last step (unbiased; < 0 = noise)'
set autoscale y
plot {plots_mmd}
unset multiplot
"""
    gp = os.path.join(args.out, "lfvi_sweep.gp")
    with open(gp, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", gp], check=True)
    os.replace(png + ".tmp.png", png)


if __name__ == "__main__":
    main()
