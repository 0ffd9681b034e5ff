"""Simulators and tables: a Python simulator against the same simulator built in, tables as the CLI
writes them, failures and errors."""

import json
import subprocess

import numpy as np
import pytest

import sbipp
from conftest import gaussian_linear_numpy


def test_python_and_builtin_simulator_give_identical_tables(gaussian_linear_2d):
    python, builtin, prior = gaussian_linear_2d
    # 1000 rows: several chunks and batches, so rows from different batches are compared.
    from_python = sbipp.simulate(python, 1000, prior, seed=11)
    from_builtin = sbipp.simulate(builtin, 1000, prior, seed=11, threads=2)
    assert len(from_python) == len(from_builtin) == 1000
    assert np.array_equal(from_python.theta, from_builtin.theta)
    assert np.array_equal(from_python.y, from_builtin.y)  # bit-identical, not close
    assert np.array_equal(from_python.indices, np.arange(1000))
    assert from_python.simulator == from_builtin.simulator == "gaussian_linear"
    # Another seed gives another table.
    assert not np.array_equal(sbipp.simulate(python, 1000, prior, seed=12).y, from_python.y)


def test_simulate_given_theta_matches_the_table(gaussian_linear_2d):
    python, builtin, prior = gaussian_linear_2d
    table = sbipp.simulate(builtin, 50, prior, seed=5)
    # Row i of the table is simulation i of the run: the prior's draw i and the simulator on stream (5, i).
    assert np.array_equal(prior.sample(50, seed=5), table.theta)
    assert np.array_equal(python.simulate(table.theta, seed=5), table.y)
    assert np.array_equal(builtin.simulate(table.theta[10:20], seed=5, first_index=10), table.y[10:20])


def test_numpy_generator_per_row_is_reproducible():
    def simulate(theta, seeds):
        return np.stack([t + np.random.default_rng(s).normal(size=2) for t, s in zip(theta, seeds)])

    simulator = sbipp.Simulator(simulate, ["a", "b"], 2)
    prior = sbipp.Prior.from_spec([{"name": "a", "dist": "normal", "mu": 0, "sigma": 1}, {"name": "b", "dist": "normal", "mu": 0, "sigma": 1}])
    assert simulator.data_names == ["y_1", "y_2"]
    first = sbipp.simulate(simulator, 300, prior, seed=3)
    again = sbipp.simulate(simulator, 300, prior, seed=3)
    assert np.array_equal(first.y, again.y)


def test_table_files_round_trip_and_match_the_cli(gaussian_linear_2d, sbi_cli, source_dir, tmp_path):
    python, _, prior = gaussian_linear_2d
    table = sbipp.simulate(python, 200, prior, seed=4)
    for name in ("t.csv", "t.sbt"):
        table.save(tmp_path / name)
        loaded = sbipp.load_table(tmp_path / name)
        assert np.array_equal(loaded.theta, table.theta) and np.array_equal(loaded.y, table.y)
        assert loaded.parameter_names == table.parameter_names and loaded.seed == 4
    # `sbi simulate` on the equivalent spec writes the same rows.
    spec = {"simulator": {"name": "gaussian_linear", "options": {"dim": 2}}, "seed": 4, "observation": [0.0, 0.0]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    subprocess.run([str(sbi_cli), "simulate", str(tmp_path / "spec.json"), "-n", "200", "-o", str(tmp_path / "cli.sbt"), "--format", "bin",
                    "--quiet"], check=True, capture_output=True)
    from_cli = sbipp.load_table(tmp_path / "cli.sbt")
    assert np.array_equal(from_cli.theta, table.theta) and np.array_equal(from_cli.y, table.y)
    # And the spec, given as a dict, simulates the same table from Python.
    assert np.array_equal(sbipp.simulate(spec, 200).y, table.y)


def test_a_plain_csv_of_simulations_made_elsewhere_loads_with_its_prior(gaussian_linear_2d, tmp_path):
    _, builtin, prior = gaussian_linear_2d
    table = sbipp.simulate(builtin, 200, prior, seed=4)
    # The columns as another program might write them: data first, then θ, a failed run at the end.
    rows = np.hstack([table.y, table.theta])
    text = ",".join(table.data_names + table.parameter_names) + "\n"
    text += "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows) + "nan,0.1,0.1,0.1\n"
    (tmp_path / "sims.csv").write_text(text)
    with pytest.warns(UserWarning, match="1 row with NaN or infinite data left out"):
        loaded = sbipp.load_table(tmp_path / "sims.csv", prior)
    assert np.array_equal(loaded.theta, table.theta) and np.array_equal(loaded.y, table.y)
    assert loaded.parameter_names == table.parameter_names and loaded.data_names == table.data_names
    with pytest.raises(sbipp.InputError, match="needs prior="):
        sbipp.load_table(tmp_path / "sims.csv")
    (tmp_path / "bad.csv").write_text("theta_1,data_1\n0.1,0.2\n")
    with pytest.raises(sbipp.InputError, match='no column "theta_2"'):
        sbipp.load_table(tmp_path / "bad.csv", prior)


def test_a_spec_without_a_simulator_trains_on_its_plain_csv(gaussian_linear_2d, tmp_path):
    _, builtin, prior = gaussian_linear_2d
    table = sbipp.simulate(builtin, 300, prior, seed=4)
    rows = np.hstack([table.theta, table.y])
    text = "a,b,x_1,x_2\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)
    (tmp_path / "sims.csv").write_text(text)
    (tmp_path / "obs.csv").write_text("x_2,x_1\n-0.2,0.4\n")
    sd = 0.1 ** 0.5
    spec = {"prior": [{"name": "a", "dist": "normal", "mu": 0, "sigma": sd}, {"name": "b", "dist": "normal", "mu": 0, "sigma": sd}],
            "observation": {"file": "obs.csv"}, "seed": 3, "inference": {"method": "npe", "table": "sims.csv", "max_epochs": 5}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    loaded = sbipp.load_spec(tmp_path / "spec.json")
    assert loaded.simulator is None and len(loaded.table) == 300
    assert list(loaded.observation) == [0.4, -0.2]  # matched to the table's data names
    from_spec = sbipp.infer(tmp_path / "spec.json", progress=False)
    by_hand = sbipp.infer("npe", sbipp.load_table(tmp_path / "sims.csv", loaded.prior), loaded.prior, seed=3, max_epochs=5, progress=False)
    assert from_spec.data_names == ["x_1", "x_2"]
    assert np.array_equal(from_spec.sample([0.4, -0.2], 200, seed=1), by_hand.sample([0.4, -0.2], 200, seed=1))
    del spec["inference"]["table"]
    spec["observation"] = [0.4, -0.2]
    with pytest.raises(sbipp.InputError, match="simulator: missing"):
        sbipp.load_spec(spec)


def test_table_views_are_read_only(gaussian_linear_2d):
    _, builtin, prior = gaussian_linear_2d
    table = sbipp.simulate(builtin, 10, prior, seed=1)
    with pytest.raises(ValueError):
        table.theta[0, 0] = 1.0


def test_non_finite_rows_are_failed_simulations():
    def simulate(theta, seeds):
        y = theta.copy()
        y[theta[:, 0] > 0.5] = np.nan
        return y

    simulator = sbipp.Simulator(simulate, ["a"], ["y"])
    prior = sbipp.Prior.from_spec([{"name": "a", "dist": "uniform", "low": 0, "high": 1}])
    table = sbipp.simulate(simulator, 400, prior, seed=2)
    assert 0 < len(table) < 400 and np.all(table.theta <= 0.5)
    redrawn = sbipp.simulate(simulator, 400, prior, seed=2, failure_policy="redraw")
    assert len(redrawn) == 400 and np.all(redrawn.theta <= 0.5)
    with pytest.raises(sbipp.SimulationError, match="simulation 0|failed|non-finite"):
        # Some early row fails; "fail" stops with an error naming it.
        sbipp.simulate(simulator, 400, prior, seed=2, failure_policy="fail")


def test_simulator_errors_are_python_exceptions(gaussian_linear_2d):
    _, _, prior = gaussian_linear_2d
    wrong_shape = sbipp.Simulator(lambda theta, seeds: theta[:, :1], ["theta_1", "theta_2"], 2, name="wrong")
    with pytest.raises(sbipp.InputError, match=r'simulator "wrong": returned an array of shape \(\d+, 1\)'):
        sbipp.simulate(wrong_shape, 20, prior)

    def raises(theta, seeds):
        raise ZeroDivisionError("inside the simulator")

    with pytest.raises(ZeroDivisionError, match="inside the simulator"):
        sbipp.simulate(sbipp.Simulator(raises, ["theta_1", "theta_2"], 2), 20, prior)

    # A simulator that fails for some θ only: the exception keeps its type and says which θ raised it.
    def fails_above(theta, seeds):
        if np.any(theta[:, 0] > 1.0):
            raise ValueError("rate out of range")
        return theta.copy()

    with pytest.raises(ValueError, match="rate out of range") as caught:
        sbipp.simulate(sbipp.Simulator(fails_above, ["theta_1", "theta_2"], 2), 200, prior, seed=3)
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) == 1 and "theta_1=" in notes[0] and "called alone it raises too" in notes[0], notes
    culprit = float(notes[0].split("theta_1=")[1].split(",")[0])
    assert culprit > 1.0
    # Parameters named in another order than the prior's would receive each other's values.
    swapped = sbipp.Simulator(lambda theta, seeds: theta.copy(), ["theta_2", "theta_1"], 2, name="swapped")
    with pytest.raises(sbipp.InputError, match=r'names parameter 1 "theta_1", which simulator "swapped" has as parameter 2'):
        sbipp.simulate(swapped, 20, prior)
    with pytest.raises(sbipp.InputError, match="dim"):
        sbipp.Simulator.builtin("gaussian_linear", {"dim": 0})
    with pytest.raises(sbipp.InputError, match="options.dimm"):
        sbipp.Simulator.builtin("gaussian_linear", {"dimm": 2})
    with pytest.raises(sbipp.InputError, match="two_moons"):  # the error lists the known names
        sbipp.Simulator.builtin("two_moon")
    # InputError is a ValueError, FileError an OSError: code that catches those catches sbi++'s.
    with pytest.raises(ValueError):
        sbipp.Prior.from_spec([{"name": "a", "dist": "uniform", "low": 1, "high": 0}])
    with pytest.raises(OSError):
        sbipp.load_table("/nonexistent/table.csv")


def test_a_place_the_system_refuses_is_a_file_error(gaussian_linear_2d, tmp_path):
    _, builtin, prior = gaussian_linear_2d
    table = sbipp.simulate(builtin, 200, prior, seed=1)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(sbipp.FileError, match="a_file"):  # an OSError, as Python's own open() raises
        table.save(str(blocker / "table.csv"))
    posterior = sbipp.infer("npe", table, prior, max_epochs=2)
    with pytest.raises(sbipp.FileError, match="a_file"):
        posterior.save(str(blocker / "posterior"))


def test_spec_errors_name_the_json_path():
    spec = {"simulator": {"name": "gaussian_linear", "options": {"dim": 2}}, "observation": [0.0, 0.0],
            "inference": {"method": "mmd", "generator": {"hidden": "wide"}}}
    with pytest.raises(sbipp.InputError, match=r"inference\.generator\.hidden"):
        sbipp.infer(spec)
    with pytest.raises(sbipp.InputError, match=r"prior\[0\]"):
        sbipp.Prior.from_spec([{"name": "a", "dist": "gamma"}])


def test_rng_matches_the_library_streams():
    # A row's simulation stream is Rng(stream_seed(seed, i, 1)); normals() draws from it as C++ does.
    seeds = np.array([sbipp.stream_seed(7, i, 1) for i in range(3)], dtype=np.uint64)
    rows = sbipp.normals(seeds, 4)
    for i in range(3):
        rng = sbipp.Rng(int(seeds[i]))
        assert np.array_equal(rows[i], [rng.normal() for _ in range(4)])
    theta = np.zeros((3, 4))
    assert np.array_equal(gaussian_linear_numpy(theta, seeds), np.sqrt(0.1) * rows)


def test_external_process_simulator_from_a_spec(source_dir):
    # data/specs/external_example.json runs data/specs/external_example.py (2 worker processes) over the
    # object protocol, which hands each simulation its stream seed: the same script's function called
    # from a Python simulator on the same seeds gives the same table (`sbi simulate` runs the same
    # library code on the same spec: test_table_files_round_trip_and_match_the_cli).
    spec_path = source_dir / "data" / "specs" / "external_example.json"
    from_spec = sbipp.simulate(spec_path, 20)
    assert from_spec.data_names == ["mean", "sd", "min", "max"] and len(from_spec) == 20

    namespace = {}
    exec(compile((source_dir / "data" / "specs" / "external_example.py").read_text(), "external_example.py", "exec"), namespace)
    example = namespace["simulate"]
    spec = sbipp.load_spec(spec_path)
    python = sbipp.Simulator(lambda theta, seeds: np.array([example(list(t), int(s))["y"] for t, s in zip(theta, seeds)]),
                             spec.prior.names, from_spec.data_names)
    assert np.array_equal(sbipp.simulate(python, 20, spec.prior, seed=spec.seed).y, from_spec.y)

