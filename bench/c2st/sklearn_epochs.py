#!/usr/bin/python3
"""Epochs scikit-learn's MLPClassifier trains in each C2ST fold (the sbibm protocol), to compare with
`sbi diagnose --json`'s "c2st_epochs" (same stopping rule: tol 1e-4, more than 10 epochs without it).

Usage: /usr/bin/python3 bench/c2st/sklearn_epochs.py REFERENCE.csv SAMPLES.csv [--seed 1] [-n 10000]
"""

import argparse
import json
import sys

import numpy as np

sys.path.insert(0, "/work/shared/bench")
from c2st import read_samples  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference")
    ap.add_argument("samples")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from sklearn.model_selection import KFold, cross_validate
    from sklearn.neural_network import MLPClassifier

    X = read_samples(args.reference, args.n)
    Y = read_samples(args.samples, args.n)
    Y = Y[np.isfinite(Y).all(axis=1)]
    mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
    X, Y = (X - mean) / std, (Y - mean) / std
    d = X.shape[1]
    clf = MLPClassifier(activation="relu", hidden_layer_sizes=(10 * d, 10 * d), max_iter=10000, solver="adam",
                        random_state=args.seed)
    data = np.concatenate((X, Y))
    target = np.concatenate((np.zeros(len(X)), np.ones(len(Y))))
    cv = cross_validate(clf, data, target, cv=KFold(n_splits=5, shuffle=True, random_state=args.seed),
                        scoring="accuracy", return_estimator=True)
    print(json.dumps({"c2st": float(np.mean(cv["test_score"])), "folds": [float(s) for s in cv["test_score"]],
                      "epochs": [int(e.n_iter_) for e in cv["estimator"]],
                      "final_loss": [float(e.loss_) for e in cv["estimator"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
