#!/usr/bin/python3
"""Per-pair choice of CGNN's hidden units, evaluated offline from runs that differ only in --hidden.

usage: select_hidden.py KIND DIR_A DIR_B ...   (KIND: tub or syn; each DIR is OUT/NAME of
bench/causal/cgnn_settings.sh, holding KIND/pairs.csv). For every pair, picks the run with the
smallest total MMD (criterion_xy + criterion_yx: the width that fits best both ways) or the largest
|score|, and reports the weighted accuracy of the picked decisions (Tübingen: the 99-pair subset
without 47, 70, 107).
"""
import csv
import sys

kind, dirs = sys.argv[1], sys.argv[2:]
runs = [{int(r["pair_id"]): r for r in csv.DictReader(open(f"{d}/{kind}/pairs.csv"))} for d in dirs]
rules = {
    "smallest total MMD": lambda r: float(r["criterion_xy"]) + float(r["criterion_yx"]),
    "largest |score|": lambda r: -abs(float(r["score"])),
}
for name, key in rules.items():
    correct = weight = credit = 0.0
    for pair_id in runs[0]:
        if kind == "tub" and pair_id in (47, 70, 107):
            continue
        picked = min((run[pair_id] for run in runs), key=key)
        w = float(picked["weight"])
        weight += w
        credit += w * float(picked["correct"])
        correct += float(picked["correct"])
    print(f"{kind}: {name}: weighted accuracy {100 * credit / weight:.1f} %, {correct:.0f} correct")
