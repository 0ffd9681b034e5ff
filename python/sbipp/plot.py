"""Corner plots of posterior draws with matplotlib (imported only when a plot is drawn)."""

import numpy as np


def corner(samples, names=None, reference=None, bins=40, max_points=2000, seed=0, figsize=None):
    """Pairwise scatter plots under the diagonal and marginal histograms on it; returns the Figure.

    samples: an array (n, d), or a dict {label: array} to overlay several sets (e.g. CompareReport.samples).
    reference: reference draws drawn in black underneath (optional). names: the d axis labels.
    Scatter plots show a random subset of max_points draws per set (chosen with `seed`).
    """
    import matplotlib.pyplot as plt

    sets = dict(samples) if isinstance(samples, dict) else {"posterior": samples}
    if reference is not None:
        sets = {"reference": reference, **sets}
    sets = {label: np.asarray(values, dtype=float) for label, values in sets.items()}
    dims = {values.shape[1] for values in sets.values() if values.ndim == 2}
    if len(dims) != 1 or any(values.ndim != 2 for values in sets.values()):
        raise ValueError("corner: every sample set must be a 2-D array with the same number of columns")
    d = dims.pop()
    names = list(names) if names is not None else [f"theta_{i + 1}" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"corner: {len(names)} names for {d} columns")
    rng = np.random.default_rng(seed)
    colours = {label: ("black" if label == "reference" else f"C{k}") for k, label in enumerate(sets)}
    fig, axes = plt.subplots(d, d, figsize=figsize or (2.2 * d + 0.6, 2.2 * d + 0.6), squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            for label, values in sets.items():
                if i == j:
                    ax.hist(values[:, i], bins=bins, density=True, histtype="step", color=colours[label], label=label)
                else:
                    shown = values if len(values) <= max_points else values[rng.choice(len(values), max_points, replace=False)]
                    ax.scatter(shown[:, j], shown[:, i], s=2, alpha=0.3, color=colours[label], rasterized=True)
            if i == d - 1:
                ax.set_xlabel(names[j])
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
            elif i != j:
                ax.set_yticklabels([])
            if i == j:
                ax.set_yticks([])
    if len(sets) > 1:
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), frameon=False, fontsize="small")
    fig.tight_layout()
    return fig
