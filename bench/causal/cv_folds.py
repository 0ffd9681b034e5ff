#!/usr/bin/env python3
"""Splits a cause-effect folder (data/tuebingen's format) into K folds grouped by a meta.csv column,
for cross-validated meta-training (bench/causal/meta_cgnn_cv.sh).

Pairs that share the column's value (Tübingen: `source`, the data set they come from) are always in
the same fold, so near-duplicate pairs (e.g. the seven Abalone pairs) never sit on both sides of a
split. Groups are shuffled with a fixed seed and each, in turn, joins the fold whose summed pair
weight is smallest. For fold k, OUT/fold{k}/test and OUT/fold{k}/train hold a meta.csv (the rows of
the fold / of the other folds) and symbolic links to the pair files.

  usage: cv_folds.py DATA_DIR OUT_DIR [--folds 5] [--group-by source] [--exclude 47,70,107] [--seed 19]
"""
import argparse
import csv
import os
import random
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--group-by", default="source")
    parser.add_argument("--exclude", default="", help="pair ids left out of every fold")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()

    meta_path = os.path.join(args.data, "meta.csv")
    with open(meta_path, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = list(reader)
    for column in ("pair_id", "weight", args.group_by):
        if column not in fields:
            sys.exit(f"{meta_path}: no column '{column}'")
    excluded = {int(x) for x in args.exclude.split(",") if x.strip()}
    rows = [r for r in rows if int(r["pair_id"]) not in excluded]

    groups = {}
    for r in rows:
        groups.setdefault(r[args.group_by], []).append(r)
    order = sorted(groups)
    random.Random(args.seed).shuffle(order)
    fold_of, fold_weight = {}, [0.0] * args.folds
    for g in order:
        k = min(range(args.folds), key=lambda i: (fold_weight[i], i))
        fold_of[g] = k
        fold_weight[k] += sum(float(r["weight"]) for r in groups[g])

    data = os.path.abspath(args.data)
    for k in range(args.folds):
        for side in ("test", "train"):
            d = os.path.join(args.out, f"fold{k}", side)
            os.makedirs(d, exist_ok=True)
            chosen = [r for r in rows if (fold_of[r[args.group_by]] == k) == (side == "test")]
            with open(os.path.join(d, "meta.csv"), "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(chosen)
            for r in chosen:
                name = "pair%04d.csv" % int(r["pair_id"])
                link = os.path.join(d, name)
                if not os.path.lexists(link):
                    os.symlink(os.path.join(data, name), link)
        test = [r for r in rows if fold_of[r[args.group_by]] == k]
        print(f"fold{k}: {len(test)} pairs, weight {fold_weight[k]:.3f}, "
              f"{len({r[args.group_by] for r in test})} groups: " + " ".join(r["pair_id"] for r in test))


if __name__ == "__main__":
    main()
