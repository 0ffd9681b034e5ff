#!/usr/bin/env python3
"""Meta-CGNN decisions of several fine-tuned models (the same fine-tuning, other seeds) combined by
the mean of their scores, beside each model alone (bench/causal/RESULTS.md, "An ensemble of
fine-tuning seeds"). A pair's ensemble score is the mean of the models' scores (each in [-1, 1],
> 0: x -> y); accuracy and AUC as in cv_summary.py (sbi/causal/benchmark.hpp's definitions).

  usage: ensemble_summary.py cv OUT_DIR EXCLUDED_IDS SEED...
           pools OUT_DIR/fold{0..4}/result_s{SEED}/pairs.csv (seed 1: result/pairs.csv)
         ensemble_summary.py generated OUT_DIR SEED...
           OUT_DIR/result_B{_sSEED}_{test_new,test_others}/pairs.csv (seed 1: no suffix)
"""
import os
import sys

from cv_summary import accuracy, auc, read


def combine(tables):
    """One row per pair with the mean score of the tables (which must hold the same pairs)."""
    ids = sorted(tables[0])
    for t in tables[1:]:
        if sorted(t) != ids:
            sys.exit("ensemble_summary.py: the models' tables hold different pairs")
    rows = {}
    for i in ids:
        r = dict(tables[0][i])
        r["score"] = repr(sum(float(t[i]["score"]) for t in tables) / len(tables))
        rows[i] = r
    return rows


def line(name, rows):
    return "| %s | %d | %.1f %% | %.1f %% | %.1f %% |" % (
        name, len(rows), 100 * accuracy(rows, True), 100 * accuracy(rows, False), 100 * auc(rows, True))


def cv(out, excluded, seeds):
    def result(k, s):
        return os.path.join(out, "fold%d" % k, "result" if s == "1" else "result_s" + s, "pairs.csv")
    per_seed = {}
    for s in seeds:
        pooled = {}
        for k in range(5):
            pooled.update(read(result(k, s), excluded))
        per_seed[s] = pooled
    ids = sorted(per_seed[seeds[0]])
    print("| model | pairs | weighted | unweighted | weighted AUC |")
    print("|---|---|---|---|---|")
    singles = []
    for s in seeds:
        rows = [per_seed[s][i] for i in ids]
        singles.append(accuracy(rows, True))
        print(line("fine-tuning seed %s alone" % s, rows))
    ensemble = combine([per_seed[s] for s in seeds])
    print(line("mean score of seeds %s" % " ".join(seeds), [ensemble[i] for i in ids]))
    print()
    print("Mean of the single models, weighted: %.1f %%" % (100 * sum(singles) / len(singles)))


def generated(out, seeds):
    def result(s, test):
        return os.path.join(out, "result_B%s_%s" % ("" if s == "1" else "_s" + s, test), "pairs.csv")
    print("| model | test_new (40) right | test_others (240) right | all (280) right |")
    print("|---|---|---|---|")
    totals = []
    for name, tables in [("seed %s alone" % s, {t: read(result(s, t), set()) for t in ("test_new", "test_others")}) for s in seeds] + \
            [("mean score of seeds %s" % " ".join(seeds),
              {t: combine([read(result(s, t), set()) for s in seeds]) for t in ("test_new", "test_others")})]:
        right = {t: round(accuracy(list(rows.values()), False) * len(rows), 1) for t, rows in tables.items()}
        total = right["test_new"] + right["test_others"]
        totals.append(total)
        print("| %s | %g | %g | %g |" % (name, right["test_new"], right["test_others"], total))
    print()
    mean_single = sum(totals[:-1]) / len(seeds)
    print("Ensemble %g right of 280 against the single models' mean %.1f: %s" %
          (totals[-1], mean_single, "ensemble better" if totals[-1] > mean_single else "ensemble not better"))


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "cv":
        cv(sys.argv[2], {int(x) for x in sys.argv[3].split(",") if x}, sys.argv[4:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "generated":
        generated(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
