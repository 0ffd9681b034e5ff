#!/usr/bin/env python3
"""Noise floor of the sweep's W1: the exact W1 between two independent N-point samples of each
target (same definitions as sbi/stability/point_gan.cpp; SciPy's assignment solver), 5 repeats.
Usage (repository root): /usr/bin/python3 bench/stability/w1_floor.py"""
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

rng = np.random.default_rng(0)
grid_means = np.array([[2.0 * (i - 2), 2.0 * (j - 2)] for i in range(5) for j in range(5)])
wine = np.loadtxt("data/wine/wine.csv", delimiter=",", skiprows=1)
wine = (wine - wine.mean(0)) / wine.std(0, ddof=1)
targets = {
    "grid25": (lambda n: grid_means[rng.integers(0, 25, n)] + 0.05 * rng.standard_normal((n, 2)), 256),
    "gauss8d": (lambda n: 3 * np.eye(8)[rng.integers(0, 8, n)] + 0.5 * rng.standard_normal((n, 8)), 256),
    "wine": (lambda n: wine[rng.integers(0, len(wine), n)], 178),
}


def w1(a, b):
    c = cdist(a, b)
    rows, cols = linear_sum_assignment(c)
    return c[rows, cols].mean()


for name, (sample, n) in targets.items():
    values = [w1(sample(n), sample(n)) for _ in range(5)]
    print(f"{name}: N = {n}, W1 between two independent target samples: mean {np.mean(values):.3f} (min {min(values):.3f}, max {max(values):.3f})")
