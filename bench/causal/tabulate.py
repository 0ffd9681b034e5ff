#!/usr/bin/python3
"""Markdown rows for bench/causal/RESULTS.md from bench/causal/out/<method>/summary.json."""
import json
import os
import re
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "bench/causal/out"
PUBLISHED = {"igci": "IGCI (uniform) 68.0 %", "anm": "ANM/RESIT 57.2 %"}
METHODS = ["cgnn", "anm", "igci", "igci-entropy-uniform", "igci-slope-gauss", "igci-entropy-gauss", "reci", "fit"]

walls = {}
wall_file = os.path.join(OUT, "wall_times.txt")
if os.path.exists(wall_file):
    for line in open(wall_file):
        m = re.match(r"(\S+): (\d+) s wall", line)
        if m:
            walls[m.group(1)] = int(m.group(2))


def pct(v):
    return "%.1f %%" % (100 * v)


rows_acc, rows_auc = [], []
for method in METHODS:
    path = os.path.join(OUT, method, "summary.json")
    if not os.path.exists(path):
        continue
    s = json.load(open(path))
    by = {x["subset"]: x for x in s["summaries"]}
    note = " (interrupted: %d pairs)" % by["all"]["pairs"] if s["interrupted"] else ""
    wall = "%d s" % walls[method] if method in walls else "%.0f s" % s["wall_seconds"]
    rows_acc.append("| %s%s | %s | %s | %s | %s | %s |" % (
        method, note, pct(by["all"]["weighted_accuracy"]), pct(by["no47-70-107"]["weighted_accuracy"]),
        pct(by["cdt99"]["weighted_accuracy"]), PUBLISHED.get(method, ""), wall))
    rows_auc.append("| %s | %s | %s | %s | %s | %.0f s |" % (
        method, pct(by["all"]["accuracy"]), pct(by["no47-70-107"]["accuracy"]), pct(by["all"]["weighted_auc"]),
        pct(by["no47-70-107"]["weighted_auc"]), by["all"].get("pair_seconds", by["all"].get("cpu_seconds", 0))))
print("\n".join(rows_acc))
print()
print("| method | accuracy all | accuracy no47-70-107 | weighted AUC all | weighted AUC no47-70-107 | summed pair time |")
print("|---|---|---|---|---|---|")
print("\n".join(rows_auc))
