#!/usr/bin/env python3
"""Pools the five folds of bench/causal/meta_cgnn_cv.sh and sets them beside the control and the
shipped meta-model (bench/causal/out/meta-cgnn-noiseconf): weighted and unweighted accuracy and the
weighted accuracy-decision-rate AUC (as sbi/causal/benchmark.hpp defines them), and a paired count.

  usage: cv_summary.py OUT_DIR EXCLUDED_IDS [SHIPPED_PAIRS_CSV]
"""
import csv
import math
import os
import sys


def read(path, excluded):
    with open(path, newline="") as f:
        return {int(r["pair_id"]): r for r in csv.DictReader(f) if int(r["pair_id"]) not in excluded}


def credit(r):
    s = float(r["score"])
    return 0.5 if s == 0 else float((1 if s > 0 else -1) == int(r["truth"]))


def accuracy(rows, weighted):
    w = [float(r["weight"]) if weighted else 1.0 for r in rows]
    return sum(wi * credit(r) for wi, r in zip(w, rows)) / sum(w)


def auc(rows, weighted):
    ranked = sorted(rows, key=lambda r: -abs(float(r["score"])))  # stable: ties keep their order
    w = [float(r["weight"]) if weighted else 1.0 for r in ranked]
    total, right, seen, area = sum(w), 0.0, 0.0, 0.0
    for wi, r in zip(w, ranked):
        right += wi * credit(r)
        seen += wi
        area += wi / total * right / seen
    return area


def line(name, rows):
    return "| %s | %d | %.1f %% | %.1f %% | %.1f %% |" % (
        name, len(rows), 100 * accuracy(rows, True), 100 * accuracy(rows, False), 100 * auc(rows, True))


def main():
    out = sys.argv[1]
    excluded = {int(x) for x in sys.argv[2].split(",") if x}
    shipped_path = sys.argv[3] if len(sys.argv) > 3 else "bench/causal/out/meta-cgnn-noiseconf/pairs.csv"
    by_fold = [read(os.path.join(out, "fold%d" % k, "result", "pairs.csv"), excluded) for k in range(5)]
    folds = {}
    for fold in by_fold:
        folds.update(fold)
    control = read(os.path.join(out, "control", "result", "pairs.csv"), excluded)
    ids = sorted(folds)
    print("| meta-model | pairs | weighted | unweighted | weighted AUC |")
    print("|---|---|---|---|---|")
    print(line("fine-tuned with the other folds' pairs (cross-validated)", [folds[i] for i in ids]))
    print(line("control: fine-tuned the same way without labelled pairs", [control[i] for i in ids]))
    if os.path.exists(shipped_path):
        shipped = read(shipped_path, excluded)
        print(line("shipped default (no fine-tuning)", [shipped[i] for i in ids]))
        # Paired over the same pairs: weighted difference and its standard error.
        d = [float(folds[i]["weight"]) * (credit(folds[i]) - credit(shipped[i])) for i in ids]
        wsum = sum(float(folds[i]["weight"]) for i in ids)
        n = len(d)
        mean = sum(d) / wsum
        per = [x / wsum * n for x in d]
        sd = math.sqrt(sum((p - mean) ** 2 for p in per) / (n - 1))
        only_cv = sum(1 for i in ids if credit(folds[i]) > credit(shipped[i]))
        only_shipped = sum(1 for i in ids if credit(folds[i]) < credit(shipped[i]))
        print()
        print("Cross-validated minus shipped, weighted: %+.1f points (paired standard error %.1f); "
              "%d pairs right only cross-validated, %d only with the shipped model." %
              (100 * mean, 100 * sd / math.sqrt(n), only_cv, only_shipped))
    print()
    for k, fold in enumerate(by_fold):
        rows = list(fold.values())
        print("fold%d: %d pairs, weighted %.1f %%" % (k, len(rows), 100 * accuracy(rows, True)))


if __name__ == "__main__":
    main()
