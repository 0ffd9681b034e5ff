"""Inference from Python: every registered method, posteriors shared with the `sbi` program in both
directions, log_prob, errors with the library's messages."""

import json
import subprocess

import numpy as np
import pytest

import sbipp
from conftest import quick_options

OBSERVATION = np.array([0.3, -0.2])


@pytest.fixture(scope="module")
def table(gaussian_linear_2d):
    python, _, prior = gaussian_linear_2d
    return sbipp.simulate(python, 400, prior, seed=1)


# The registry is read when the tests are collected: a method registered later is tested here
# without a change to this file.
@pytest.mark.parametrize("method", [m["name"] for m in sbipp.methods()])
def test_every_registered_method_runs_from_python(method, gaussian_linear_2d, table, tmp_path):
    python, _, prior = gaussian_linear_2d
    info = next(m for m in sbipp.methods() if m["name"] == method)
    options = quick_options(method)
    if info["needs"] == "table":
        posterior = sbipp.infer(method, table, prior, observation=OBSERVATION, **options)
    else:
        posterior = sbipp.infer(method, python, prior, observation=OBSERVATION, simulations=600, **options)
    assert posterior.method == method and posterior.amortized == info["amortized"]
    assert posterior.kind in sbipp.posterior_kinds()
    assert posterior.parameter_names == ["theta_1", "theta_2"]
    draws = posterior.sample(OBSERVATION, 300, seed=4)
    assert draws.shape == (300, 2) and np.all(np.isfinite(draws))
    assert np.array_equal(draws, posterior.sample(OBSERVATION, 300, seed=4))  # same seed, same draws

    # log_prob where the method has a density; otherwise the library's error says it has none.
    if posterior.has_log_prob:
        values = posterior.log_prob(draws, OBSERVATION)
        assert values.shape == (300,) and np.all(np.isfinite(values))
    else:
        with pytest.raises(sbipp.InputError, match=f'kind "{posterior.kind}" .*has no density'):
            posterior.log_prob(draws, OBSERVATION)

    # Saved and loaded: the same draws for the same seed.
    posterior.save(tmp_path / "posterior")
    again = sbipp.load_posterior(tmp_path / "posterior")
    assert again.method == method and again.options == posterior.options
    assert np.array_equal(again.sample(OBSERVATION, 300, seed=4), draws)


def test_methods_come_from_the_registry(sbi_cli):
    listing = subprocess.run([str(sbi_cli), "infer", "--list-methods"], check=True, capture_output=True, text=True).stdout
    names = [m["name"] for m in sbipp.methods()]
    assert names and all(name in listing for name in names)
    for m in sbipp.methods():
        assert m["needs"] in ("table", "simulator") and m["summary"]


def _write_observation(path, names, values):
    sbipp.write_csv(path, names, np.asarray(values, dtype=float))


def test_posterior_trained_in_python_samples_in_the_cli(gaussian_linear_2d, table, sbi_cli, tmp_path):
    _, _, prior = gaussian_linear_2d
    posterior = sbipp.infer("mmd", table, prior, **quick_options("mmd"))
    # The provenance names the table's simulator with its options (gaussian_linear's default dim is 10).
    assert posterior.provenance["simulator"] == "gaussian_linear" and posterior.provenance["simulator_options"] == {"dim": 2}
    posterior.save(tmp_path / "posterior")
    _write_observation(tmp_path / "obs.csv", ["data_1", "data_2"], OBSERVATION)
    subprocess.run([str(sbi_cli), "sample", str(tmp_path / "posterior"), "--observation", str(tmp_path / "obs.csv"), "-n", "500", "--seed",
                    "9", "-o", str(tmp_path / "samples.csv"), "--quiet"], check=True, capture_output=True)
    header, from_cli = sbipp.read_csv(tmp_path / "samples.csv")
    assert header == ["theta_1", "theta_2"]
    assert np.array_equal(from_cli, posterior.sample(OBSERVATION, 500, seed=9))


def test_posterior_trained_in_the_cli_loads_in_python(sbi_cli, tmp_path):
    # A spec that trains in about a second; the same spec trained from Python gives the same posterior.
    options = quick_options("mmd")
    spec = {"simulator": {"name": "gaussian_linear", "options": {"dim": 2}}, "observation": OBSERVATION.tolist(), "seed": 3,
            "inference": {"method": "mmd", "simulations": 300, **options}, "output": {"samples": 100}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    subprocess.run([str(sbi_cli), "infer", str(tmp_path / "spec.json"), "-o", str(tmp_path / "cli"), "--quiet", "--threads", "2"],
                   check=True, capture_output=True)
    from_cli = sbipp.load_posterior(tmp_path / "cli")
    assert from_cli.method == "mmd" and from_cli.provenance["simulations"] == 300
    _write_observation(tmp_path / "obs.csv", ["data_1", "data_2"], OBSERVATION)
    subprocess.run([str(sbi_cli), "sample", str(tmp_path / "cli"), "--observation", str(tmp_path / "obs.csv"), "-n", "400", "--seed", "2",
                    "-o", str(tmp_path / "samples.csv"), "--quiet"], check=True, capture_output=True)
    cli_draws = sbipp.read_csv(tmp_path / "samples.csv")[1]
    assert np.array_equal(from_cli.sample(OBSERVATION, 400, seed=2), cli_draws)
    # Python runs the spec as `sbi infer` does (same table, same training, bit for bit), at any thread count.
    from_python = sbipp.infer(str(tmp_path / "spec.json"), threads=1)
    assert np.array_equal(from_python.sample(OBSERVATION, 400, seed=2), cli_draws)


def test_bad_options_raise_with_their_json_path(gaussian_linear_2d, table):
    _, _, prior = gaussian_linear_2d
    with pytest.raises(sbipp.InputError, match=r"options\.generator\.hiden: unknown key"):
        sbipp.infer("mmd", table, prior, generator={"hiden": [8]})
    with pytest.raises(sbipp.InputError, match=r"options\.max_iterations"):
        sbipp.infer("mmd", table, prior, max_iterations=-5)
    with pytest.raises(sbipp.InputError, match=r"options\.keep"):
        sbipp.method_options("rejection", keep="many")
    with pytest.raises(sbipp.InputError, match="mmd"):  # an unknown method: the error lists the registered ones
        sbipp.infer("nonexistent", table, prior)
    with pytest.raises(TypeError, match=r"options\.generator\.hidden\[0\]"):  # no JSON form
        sbipp.infer("mmd", table, prior, generator={"hidden": [object()]})
    posterior = sbipp.infer("rejection", table, prior, observation=OBSERVATION, keep=20)
    with pytest.raises(sbipp.InputError, match="observation: expected a 1-D array of length 2"):
        posterior.sample([1.0, 2.0, 3.0], 10)
    with pytest.raises(sbipp.FileError, match="posterior.json"):
        sbipp.load_posterior("/nonexistent/posterior")


def test_damaged_posterior_is_refused_with_the_file_name(gaussian_linear_2d, table, tmp_path):
    _, _, prior = gaussian_linear_2d
    sbipp.infer("mmd", table, prior, **quick_options("mmd")).save(tmp_path / "p")
    document = json.loads((tmp_path / "p" / "posterior.json").read_text())
    damaged = next(iter(document["files"]))
    with open(tmp_path / "p" / damaged, "ab") as f:
        f.write(b"x")
    with pytest.raises(sbipp.FileError, match=damaged):
        sbipp.load_posterior(tmp_path / "p")


def test_prior_log_prob_and_support():
    prior = sbipp.Prior.from_spec([{"name": "a", "dist": "uniform", "low": -1, "high": 1}, {"name": "b", "dist": "normal", "mu": 1, "sigma": 2}])
    theta = np.array([[0.5, 1.0], [2.0, 0.0]])
    log_prob = prior.log_prob(theta)
    expected = np.log(0.5) - np.log(2.0) - 0.5 * np.log(2 * np.pi)
    assert log_prob[0] == pytest.approx(expected, rel=1e-12) and log_prob[1] == -np.inf
    assert list(prior.in_support(theta)) == [True, False]
    assert sbipp.Prior.from_spec(prior.to_spec()).names == ["a", "b"]


def test_ensembles_of_an_amortised_method(gaussian_linear_2d, table, tmp_path):
    _, _, prior = gaussian_linear_2d
    options = quick_options("mmd")
    ensemble = sbipp.infer("mmd", table, prior, ensemble=2, **options)
    assert ensemble.kind == "ensemble" and ensemble.method == "mmd"
    draws = ensemble.sample(OBSERVATION, 200, seed=3)
    ensemble.save(tmp_path / "ensemble")
    assert np.array_equal(sbipp.load_posterior(tmp_path / "ensemble").sample(OBSERVATION, 200, seed=3), draws)
    # Members have their own seeds: the mixture is not one member repeated.
    assert not np.array_equal(draws, sbipp.infer("mmd", table, prior, **options).sample(OBSERVATION, 200, seed=3))
    with pytest.raises(sbipp.InputError, match="ensemble"):
        sbipp.infer("rejection", table, prior, observation=OBSERVATION, ensemble=2)


def test_lfvi_flow_refined_for_the_observation(gaussian_linear_2d, table):
    _, _, prior = gaussian_linear_2d
    options = {"generator": "flow", "flow": {"type": "maf", "transforms": 1, "hidden": [16]},
               "ratio": {"classifier": {"hidden": [16], "batch_size": 64}, "max_epochs": 3},
               "max_iterations": 60, "min_iterations": 0, "eval_every": 20, "refine": {"steps": 40, "eval_every": 20}}
    # Refinement makes a posterior for one observation: without one the library refuses to train.
    with pytest.raises(sbipp.InputError, match="runs for one observation with these options"):
        sbipp.infer("lfvi", table, prior, **options)
    posterior = sbipp.infer("lfvi", table, prior, observation=OBSERVATION, **options)
    report = posterior.diagnostics()["refinement"]
    assert report["kept"] in ("refined", "amortised")
    assert posterior.amortized == (report["kept"] == "amortised")
    if not posterior.amortized:
        with pytest.raises(sbipp.InputError):
            posterior.sample(np.array([0.1, 0.1]), 10)


def test_lfvi_flow_resampled_and_moved(gaussian_linear_2d, table):
    _, _, prior = gaussian_linear_2d
    options = {"generator": "flow", "flow": {"type": "maf", "transforms": 1, "hidden": [16]},
               "ratio": {"classifier": {"hidden": [16], "batch_size": 64}, "max_epochs": 3},
               "max_iterations": 60, "min_iterations": 0, "eval_every": 20, "importance_resampling": 8, "resample_moves": 2}
    posterior = sbipp.infer("lfvi", table, prior, **options)
    assert posterior.kind == "importance_resampled"
    draws = posterior.sample(OBSERVATION, 300, seed=4)
    report = posterior.diagnostics()["last_sample"]
    assert report["proposals"] == 300 * 8 and report["moves"] == 2
    # Other K and M from the same saved parts: the same draws for the trained values, others otherwise.
    assert np.array_equal(posterior.with_resampling().sample(OBSERVATION, 300, seed=4), draws)
    other = posterior.with_resampling(proposals=16, moves=0)
    assert not np.array_equal(other.sample(OBSERVATION, 300, seed=4), draws)
    assert other.diagnostics()["last_sample"]["proposals"] == 300 * 16
    with pytest.raises(sbipp.InputError, match="proposals per draw must be in"):
        posterior.with_resampling(proposals=1)
    with pytest.raises(sbipp.InputError, match="moves per draw must be in"):
        posterior.with_resampling(moves=2000)
    with pytest.raises(sbipp.InputError, match="only for importance-resampled posteriors"):
        sbipp.infer("lfvi", table, prior, **{k: v for k, v in options.items() if k not in ("importance_resampling", "resample_moves")}).with_resampling(moves=1)
