#!/usr/bin/env python3
"""sbibm accuracy benchmark for sbi++'s amortised posteriors (issue 4, item 10).

For each task and budget: one amortised model is trained (`sbi infer`, simulate + train), then for
observations 1-5 `sbi sample` draws 10,000 samples and `sbi diagnose` computes the C2ST against
sbibm's reference posterior. Prints one Markdown row per task and budget (mean C2ST over the
observations, the per-observation values, and the wall time of simulate + train + sample).

    /usr/bin/python3 bench/lfvi/sbibm_bench.py --tasks two_moons,slcp --budgets 1000,10000 [--method lfvi]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="two_moons,slcp,gaussian_linear,lotka_volterra,sir,bernoulli_glm")
    ap.add_argument("--budgets", default="1000,10000,100000")
    ap.add_argument("--observations", default="1,2,3,4,5")
    ap.add_argument("--method", default="lfvi", choices=["lfvi", "mmd"])
    ap.add_argument("--inference", default="{}", help="extra JSON merged into the spec's inference section")
    ap.add_argument("--sbi", default=os.path.join(ROOT, "build", "sbi"))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="sbi_sbibm_")
    os.makedirs(workdir, exist_ok=True)
    extra = json.loads(args.inference)
    print("| task | budget | method | mean C2ST | per observation | simulate+train+sample (s) |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        for budget in [int(b) for b in args.budgets.split(",")]:
            spec = json.load(open(os.path.join(ROOT, "data", "specs", task + ".json")))
            spec["inference"] = {"method": args.method, "simulations": budget, **extra}
            spec.pop("observation", None)
            spec.pop("true_parameters", None)
            out = os.path.join(workdir, f"{task}_{budget}_{args.method}")
            spec_path = out + ".json"
            json.dump(spec, open(spec_path, "w"))
            start = time.time()
            run([args.sbi, "infer", spec_path, "-o", out, "--quiet"])
            sample_seconds = 0.0
            values = []
            for k in args.observations.split(","):
                obs_dir = os.path.join(ROOT, "data", "sbibm", task, f"obs_{k}")
                samples = os.path.join(out, f"samples_obs{k}.csv")
                t0 = time.time()
                run([args.sbi, "sample", out, "--observation", os.path.join(obs_dir, "observation.csv"),
                     "-n", "10000", "-o", samples, "--seed", k])
                sample_seconds += time.time() - t0
                report = json.loads(run([args.sbi, "diagnose", samples, "--reference",
                                         os.path.join(obs_dir, "reference_posterior_samples.csv"), "--json"]))
                values.append(report["c2st"])
            train_seconds = json.load(open(os.path.join(out, "posterior.json")))["provenance"]
            total = train_seconds["training_seconds"] + train_seconds["simulation_seconds"] + sample_seconds / len(values)
            mean = sum(values) / len(values)
            print(f"| {task} | {budget} | {args.method} | {mean:.3f} | {', '.join(f'{v:.3f}' for v in values)} | {total:.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
