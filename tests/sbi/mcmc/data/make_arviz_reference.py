"""Reference values of R-hat and ESS from ArviZ for tests/sbi/mcmc/test_diagnostics.cpp.

Run once with ArviZ 0.20.0 (../shared/peers/python, with Debian's python3-xarray):
    . ../shared/peers/env.sh && $SBI_PYTHON tests/sbi/mcmc/data/make_arviz_reference.py
Writes arviz_reference.csv (columns: set, chain, draw, value) and arviz_reference.json (per set:
chains, draws and ArviZ's rank R-hat, split R-hat, bulk ESS, tail ESS and mean ESS). ArviZ is used
as an oracle only: the C++ diagnostics are written from Vehtari et al. (2021).
"""
import json
import os

import arviz as az
import numpy as np

rng = np.random.default_rng(20261202)


def ar1(chains, draws, rho, offsets=None):
    x = np.empty((chains, draws))
    for c in range(chains):
        v = rng.standard_normal() / np.sqrt(1 - rho * rho)
        for t in range(draws):
            v = rho * v + rng.standard_normal()
            x[c, t] = v
    if offsets is not None:
        x += np.asarray(offsets)[:, None]
    return x


sets = {
    "ar1_0.6": ar1(4, 250, 0.6),
    "ar1_shifted": ar1(4, 250, 0.3, offsets=[0, 0, 0, 0.5]),
    "t3_scaled_odd": rng.standard_t(3, size=(3, 201)) * np.array([1.0, 1.0, 2.0])[:, None],
    "poisson_ties": rng.poisson(2.0, size=(4, 100)).astype(float),
}

here = os.path.dirname(os.path.abspath(__file__))
expected = {}
with open(os.path.join(here, "arviz_reference.csv"), "w") as f:
    f.write("set,chain,draw,value\n")
    for name, x in sets.items():
        for c in range(x.shape[0]):
            for t in range(x.shape[1]):
                f.write(f"{list(sets).index(name)},{c},{t},{x[c, t]!r}\n")
        expected[name] = {
            "index": list(sets).index(name),
            "chains": int(x.shape[0]),
            "draws": int(x.shape[1]),
            "rhat_rank": float(az.rhat(x, method="rank")),
            "rhat_split": float(az.rhat(x, method="split")),
            "ess_bulk": float(az.ess(x, method="bulk")),
            "ess_tail": float(az.ess(x, method="tail")),
            "ess_mean": float(az.ess(x, method="mean")),
        }
expected["arviz_version"] = az.__version__
with open(os.path.join(here, "arviz_reference.json"), "w") as f:
    json.dump(expected, f, indent=1)
print(json.dumps(expected, indent=1))
