"""Shared fixtures of the sbipp tests.

ctest runs them with PYTHONPATH=<build>/python and SBI_CLI=<the sbi program> (python/CMakeLists.txt).
Run by hand: PYTHONPATH=build/python /usr/bin/python3 -m pytest python/tests (the program is then
looked for at build/sbi).
"""

import os
import pathlib
import sys

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SBI_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))

# Without PYTHONPATH: the package as the default build assembles it.
try:
    import sbipp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(SOURCE_DIR / "build" / "python"))
    import sbipp  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (ctest label slow)")


@pytest.fixture(scope="session")
def sbi_cli():
    """Path of the `sbi` program; the test is skipped when it was not built."""
    path = pathlib.Path(os.environ.get("SBI_CLI", SOURCE_DIR / "build" / "sbi"))
    if not path.is_file():
        pytest.skip(f"the sbi program is not built ({path})")
    return path


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE_DIR


def gaussian_linear_numpy(theta, seeds):
    """The built-in gaussian_linear simulator (simulators/gaussian.cpp: y = θ + sqrt(0.1)·z, z from the
    row's own stream), written in NumPy."""
    return theta + np.sqrt(0.1) * sbipp.normals(seeds, theta.shape[1])


@pytest.fixture(scope="session")
def gaussian_linear_2d():
    """(Python simulator, built-in simulator, prior) of the 2-D gaussian_linear task."""
    names = ["theta_1", "theta_2"]
    python = sbipp.Simulator(gaussian_linear_numpy, names, ["data_1", "data_2"], name="gaussian_linear", options={"dim": 2})
    builtin = sbipp.Simulator.builtin("gaussian_linear", {"dim": 2})
    prior = sbipp.Prior.builtin("gaussian_linear", {"dim": 2})
    return python, builtin, prior


# Options that make any method quick: applied to the keys a method has (sbipp.method_options), so a
# method registered later gets them too when it follows the library's option names.
QUICK = {
    "max_iterations": 150,
    "min_iterations": 50,
    "eval_every": 50,
    "patience": 2,
    "hidden": [16, 16],
    "batch_size": 64,
    "keep": 50,
    "population": 100,
    "num_transforms": 1,
    "transforms": 1,
    "epochs": 3,
    "max_epochs": 3,
    "ensemble_members": 1,
}


def quick_options(method):
    """Small settings for `method`: QUICK's values for the keys its defaults have (also one level down,
    e.g. generator.hidden)."""
    defaults = sbipp.method_options(method)

    def shrink(section):
        out = {}
        for key, value in section.items():
            if isinstance(value, dict):
                inner = shrink(value)
                if inner:
                    out[key] = inner
            elif key in QUICK and type(value) is type(QUICK[key]):
                out[key] = QUICK[key]
        return out

    return shrink(defaults)
