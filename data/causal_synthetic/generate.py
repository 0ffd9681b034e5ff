#!/usr/bin/python3
"""Generates the synthetic cause-effect pairs in this folder (format of data/tuebingen).

Run from anywhere: /usr/bin/python3 (Debian numpy) data/causal_synthetic/generate.py [--out DIR] [--seed S]
Deterministic for a seed (numpy's PCG64). The committed files come from the defaults.

Every pair draws a cause X from one of four non-Gaussian-or-Gaussian laws and a random monotone
nonlinear function f(x) = s * (sum_k a_k tanh(b_k (x - c_k)) + d x), s = +-1, then the effect by one
of three mechanisms (16 pairs each):
  additive        Y = f(X) + sigma * E
  location-scale  Y = f(X) + sigma * (0.3 + sigmoid(g X)) * E
  multiplicative  Y = exp(f(X) / 2) * U,   U ~ Uniform(0.5, 1.5)
with E standard normal or uniform (variance 1), sigma = 0.2 * sd(f(X)). Half of the pairs of each
mechanism store the cause in column x (direction +1), the other half in column y (direction -1).
"""
import argparse
import os

import numpy as np

N_PER_MECHANISM = 16
N_SAMPLES = 300


def draw_cause(rng, n):
    kind = rng.integers(4)
    if kind == 0:
        x = rng.uniform(-2, 2, n)
    elif kind == 1:
        centres = rng.choice([-1.5, 1.5], n)
        x = centres + 0.6 * rng.standard_normal(n)
    elif kind == 2:
        x = rng.gamma(2.0, 1.0, n)
    else:
        x = rng.standard_normal(n)
    return (x - x.mean()) / x.std()


def draw_function(rng):
    a = rng.uniform(0.5, 2.0, 3)
    b = rng.uniform(1.0, 3.0, 3)
    c = rng.uniform(-1.5, 1.5, 3)
    d = rng.uniform(0.0, 0.5)
    s = rng.choice([-1.0, 1.0])
    return lambda x: s * ((a[:, None] * np.tanh(b[:, None] * (x[None, :] - c[:, None]))).sum(0) + d * x)


def draw_noise(rng, n):
    if rng.integers(2) == 0:
        return rng.standard_normal(n)
    return rng.uniform(-np.sqrt(3), np.sqrt(3), n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    pair_id = 0
    for mechanism in ["additive", "location-scale", "multiplicative"]:
        for k in range(N_PER_MECHANISM):
            pair_id += 1
            x = draw_cause(rng, N_SAMPLES)
            f = draw_function(rng)
            fx = f(x)
            sigma = 0.2 * fx.std()
            if mechanism == "additive":
                y = fx + sigma * draw_noise(rng, N_SAMPLES)
            elif mechanism == "location-scale":
                g = rng.uniform(-2, 2)
                y = fx + sigma * (0.3 + 1.0 / (1.0 + np.exp(-g * x))) * draw_noise(rng, N_SAMPLES)
            else:
                y = np.exp(fx / 2.0) * rng.uniform(0.5, 1.5, N_SAMPLES)
            direction = 1 if k % 2 == 0 else -1
            first, second = (x, y) if direction == 1 else (y, x)
            with open(os.path.join(args.out, "pair%04d.csv" % pair_id), "w") as out:
                out.write("x,y\n")
                for a, b in zip(first, second):
                    out.write("%.9g,%.9g\n" % (a, b))
            rows.append("%d,%d,1,%d,%s" % (pair_id, direction, N_SAMPLES, mechanism))
    with open(os.path.join(args.out, "meta.csv"), "w") as out:
        out.write("pair_id,direction,weight,n_samples,mechanism\n")
        out.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
