"""The README's "From Python" example, extracted from the README and run as it stands (so the two
cannot drift apart)."""

import os
import re

import numpy as np
import pytest

import sbipp
from conftest import SOURCE_DIR


def readme_example():
    """The first ```python block of the "## From Python" section: in README.md once it is there, else in
    python/README_SECTION.md (the section's text before it is spliced into the README)."""
    for path in (SOURCE_DIR / "README.md", SOURCE_DIR / "python" / "README_SECTION.md"):
        text = path.read_text(encoding="utf-8")
        section = re.search(r"^## From Python\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        if section:
            block = re.search(r"^```python\n(.*?)^```", section.group(1), re.S | re.M)
            assert block, f'{path.name}: the "From Python" section has no python code block'
            return path, block.group(1)
    pytest.fail('no "## From Python" section in README.md or python/README_SECTION.md')


def test_readme_example_runs_from_simulator_to_corner_plot(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path, code = readme_example()
    assert len(code.strip().splitlines()) <= 20, "the example should stay short"
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, str(path), "exec"), scope)

    samples, prior, posterior = scope["samples"], scope["prior"], scope["posterior"]
    assert samples.shape == (5000, 2) and np.all(prior.in_support(samples))
    assert (tmp_path / "corner.png").stat().st_size > 10000
    assert np.array_equal(sbipp.load_posterior(tmp_path / "posterior").sample([0.5, 0.2], 5000, seed=7), samples)
    # Training moved the draws towards the exact posterior: MMD² to exact posterior draws (the
    # likelihood on a grid, prior uniform) is at most half the prior's. A smoke check that the example
    # learns, not an accuracy benchmark (those are in bench/RESULTS.md).
    exact = exact_posterior_draws([0.5, 0.2], 5000)
    prior_draws = prior.sample(5000, seed=3)
    assert float(sbipp.mmd(exact, samples)) < 0.5 * float(sbipp.mmd(exact, prior_draws))


def exact_posterior_draws(observation, n, cells=801, seed=0):
    """Draws of the example's posterior for a uniform prior on [-1, 1]²: y = (a + b², a − b) + N(0, 0.1² I),
    evaluated on a grid of cells² points and jittered within a cell."""
    grid = np.linspace(-1, 1, cells)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    log_likelihood = -((a + b**2 - observation[0]) ** 2 + (a - b - observation[1]) ** 2) / (2 * 0.1**2)
    weights = np.exp(log_likelihood - log_likelihood.max()).ravel()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(weights.size, n, p=weights / weights.sum())
    half_cell = 1.0 / (cells - 1)
    return np.column_stack([a.ravel()[chosen], b.ravel()[chosen]]) + rng.uniform(-half_cell, half_cell, (n, 2))
