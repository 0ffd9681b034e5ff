"""ABC, compare, C2ST and MMD, progress reports, and Ctrl-C from Python."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import sbipp

OBSERVATION = np.array([0.3, -0.2])


def analytic_posterior(observation, n, seed):
    """gaussian_linear (prior N(0, 0.1 I), y ~ N(θ, 0.1 I)): the posterior is N(y/2, 0.05 I)."""
    return observation / 2 + np.sqrt(0.05) * np.random.default_rng(seed).standard_normal((n, len(observation)))


def test_rejection_abc_recovers_the_analytic_posterior_mean(gaussian_linear_2d):
    _, builtin, prior = gaussian_linear_2d
    posterior = sbipp.abc(builtin, "rejection", prior, observation=OBSERVATION, simulations=4000, keep=100)
    assert posterior.kind == "abc_samples" and not posterior.amortized
    assert posterior.provenance["simulations"] == 4000
    draws = posterior.sample(OBSERVATION, 2000, seed=1)
    # Keeping 100 of 4000 (2.5 %) accepts within ε ≈ 0.1 of y_obs (marginal density of y near 0 is
    # 1/(2π·0.2) ≈ 0.8, and π ε² · 0.8 = 0.025), which widens the likelihood's variance 0.1 by ε²/4 ≈
    # 0.0025: the mean shrinks by about 1 % of y (< 0.005). The standard error of the mean of 100
    # accepted draws is sqrt(0.05 / 100) ≈ 0.022; 0.1 is more than 4 standard errors beyond the shrinkage.
    assert np.all(np.abs(draws.mean(axis=0) - OBSERVATION / 2) < 0.1)
    # Made for one observation only.
    with pytest.raises(sbipp.InputError):
        posterior.sample(OBSERVATION + 1.0, 10)


def test_smc_abc_stays_within_its_budget(gaussian_linear_2d):
    python, _, prior = gaussian_linear_2d
    posterior = sbipp.abc(python, "smc", prior, observation=OBSERVATION, simulations=1500, population=100)
    assert posterior.method == "smc" and posterior.provenance["simulations"] <= 1500
    assert posterior.sample(OBSERVATION, 100, seed=1).shape == (100, 2)


def test_compare_reports_every_method_and_c2st(gaussian_linear_2d, tmp_path):
    _, builtin, prior = gaussian_linear_2d
    reference = analytic_posterior(OBSERVATION, 500, seed=0)
    report = sbipp.compare(builtin, ["rejection", "smc"], prior, observation=OBSERVATION, simulations=1500, samples=500, reference=reference,
                           options={"rejection": {"keep": 50}, "smc": {"population": 100}}, folder=tmp_path / "report")
    assert [m["name"] for m in report.methods] == ["rejection", "smc"]
    assert set(report.c2st) == {"rejection", "smc"} and all(0.0 <= v <= 1.0 for v in report.c2st.values())
    assert report.samples["smc"].shape == (500, 2)
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "samples_smc.csv").is_file()
    assert "rejection" in report.brief_report()
    with pytest.raises(sbipp.InputError, match=r"options\.smc\.populaton|populaton"):
        sbipp.compare(builtin, ["smc"], prior, observation=OBSERVATION, simulations=100, options={"smc": {"populaton": 10}})


def test_c2st_and_mmd_tell_same_from_different():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((500, 2)), rng.standard_normal((500, 2))
    shifted = b + 3.0
    # The same distribution: accuracy near 0.5 (the sd of a fold's accuracy on 200 test rows is ≤ 0.035,
    # of the mean of 5 folds ≤ 0.016; 0.62 is more than 7 of those above 0.5). Shifted by 3 sd: separable.
    same = sbipp.c2st(a, b, seed=1)
    assert float(same) < 0.62 and len(same.fold_accuracies) == 5
    assert float(sbipp.c2st(a, shifted, seed=1)) > 0.95
    assert float(sbipp.mmd(a, b)) < 0.02 < float(sbipp.mmd(a, shifted))
    with pytest.raises(sbipp.InputError, match="folds"):
        sbipp.c2st(a, b, folds=1)
    with pytest.raises(sbipp.InputError, match="samples: expected a 2-D array with 2 columns"):
        sbipp.c2st(a, rng.standard_normal((10, 3)))


def test_read_csv_matches_columns_to_names_as_sbi_diagnose_does(tmp_path):
    path = tmp_path / "draws.csv"
    sbipp.write_csv(path, ["b", "a"], np.array([[1.0, 2.0], [3.0, 4.0]]))
    header, values = sbipp.read_csv(path, names=["a", "b"])
    assert header == ["a", "b"] and values.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    header, values = sbipp.read_csv(path, names=["x", "y"])  # no name in common: taken in order
    assert values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(sbipp.InputError, match=r'column 2 \("a"\) is parameter 1'):
        sbipp.read_csv(path, names=["a", "c"])



# ---------------------------------------------------------------------------------------------
# Progress


def run_python(code, **kwargs):
    """Runs `code` in a fresh interpreter (stdout and stderr are pipes, not terminals)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, env=os.environ.copy(),
                          **kwargs)


PROGRESS_CODE = """
    import sbipp
    simulator = sbipp.Simulator.builtin("gaussian_linear", {"dim": 2})
    prior = sbipp.Prior.builtin("gaussian_linear", {"dim": 2})
    sbipp.simulate(simulator, 2000, prior, progress=PROGRESS)
    print("done")
"""


def test_no_progress_bar_when_not_a_terminal():
    quiet = run_python(PROGRESS_CODE.replace("PROGRESS", "None"))
    assert quiet.returncode == 0 and quiet.stdout.strip() == "done" and quiet.stderr == ""
    forced = run_python(PROGRESS_CODE.replace("PROGRESS", "True"))
    assert forced.returncode == 0 and "simulate [####################] 2000/2000 sim" in forced.stderr


def test_progress_bar_when_stderr_is_a_terminal():
    import pty

    controller, terminal = pty.openpty()
    try:
        child = subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRESS_CODE.replace("PROGRESS", "None"))], stdout=subprocess.PIPE,
                               stderr=terminal, text=True, timeout=60, env=os.environ.copy())
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert child.returncode == 0 and child.stdout.strip() == "done"
    assert "2000/2000 sim" in shown.decode(errors="replace")


def test_progress_goes_to_a_callable(gaussian_linear_2d):
    _, builtin, prior = gaussian_linear_2d
    reports = []
    sbipp.simulate(builtin, 3000, prior, progress=lambda *report: reports.append(report))
    assert reports and all(r[0] == "simulate" and r[3] == "sim" for r in reports)
    assert reports[-1][1:3] == (3000, 3000)
    assert all(a[1] <= b[1] for a, b in zip(reports, reports[1:]))


def test_an_exception_in_the_progress_callable_stops_the_call(gaussian_linear_2d):
    _, builtin, prior = gaussian_linear_2d

    def fails(*report):
        raise RuntimeError("from the progress callable")

    with pytest.raises(RuntimeError, match="from the progress callable"):
        sbipp.simulate(builtin, 100, prior, progress=fails)


# ---------------------------------------------------------------------------------------------
# Ctrl-C


class InterruptedSimulator:
    """gaussian_linear in NumPy that raises KeyboardInterrupt in call `at` (as Ctrl-C would while its
    Python code runs), once or from then on."""

    def __init__(self, at, once=True):
        self.calls, self.at, self.once = 0, at, once

    def __call__(self, theta, seeds):
        self.calls += 1
        if self.calls == self.at or (not self.once and self.calls > self.at):
            raise KeyboardInterrupt
        return theta + np.sqrt(0.1) * sbipp.normals(seeds, theta.shape[1])


def python_simulator(function):
    return sbipp.Simulator(function, ["theta_1", "theta_2"], ["data_1", "data_2"], name="gaussian_linear", options={"dim": 2})


def test_ctrl_c_in_a_python_simulator_stops_simulate_cleanly(gaussian_linear_2d):
    _, builtin, prior = gaussian_linear_2d
    with pytest.raises(sbipp.Interrupted) as stopped:
        sbipp.simulate(python_simulator(InterruptedSimulator(at=3)), 10000, prior, seed=2)
    partial = stopped.value.partial
    assert isinstance(stopped.value, KeyboardInterrupt)  # code that catches Ctrl-C catches it
    # The batches in flight finish: the rows kept are the first rows of the full table, unchanged.
    assert 0 < len(partial) < 10000
    full = sbipp.simulate(builtin, len(partial), prior, seed=2)
    assert np.array_equal(partial.y, full.y) and np.array_equal(partial.theta, full.theta)
    # Nothing is left behind: the next call runs normally.
    assert len(sbipp.simulate(python_simulator(InterruptedSimulator(at=0)), 100, prior)) == 100


def test_a_second_ctrl_c_stops_at_once(gaussian_linear_2d):
    _, _, prior = gaussian_linear_2d
    with pytest.raises(KeyboardInterrupt):
        sbipp.simulate(python_simulator(InterruptedSimulator(at=3, once=False)), 10000, prior)
    assert len(sbipp.simulate(python_simulator(InterruptedSimulator(at=0)), 100, prior)) == 100


def test_ctrl_c_in_a_python_simulator_stops_infer(gaussian_linear_2d):
    _, _, prior = gaussian_linear_2d
    with pytest.raises(sbipp.Interrupted, match="while simulating") as stopped:
        sbipp.infer("mmd", python_simulator(InterruptedSimulator(at=2)), prior, simulations=10000)
    assert stopped.value.partial is None


def interrupt_python(code, ready, pause=0.0):
    """Runs `code` in a new interpreter, sends SIGINT once its first line of output passes `ready`
    (after `pause` seconds), and returns (stdout, stderr) of a run that must then end normally."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=os.environ.copy())
    try:
        assert ready(child.stdout.readline())
        time.sleep(pause)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    return out, err


def test_sigint_during_training_returns_the_posterior_so_far(tmp_path):
    # A real Ctrl-C (SIGINT) while the library trains with the GIL released.
    code = """
        import sys, sbipp
        simulator = sbipp.Simulator.builtin("gaussian_linear", {"dim": 2})
        prior = sbipp.Prior.builtin("gaussian_linear", {"dim": 2})
        table = sbipp.simulate(simulator, 500, prior)
        started = []
        def progress(stage, done, total, unit, status):
            if stage != "simulate" and not started:
                started.append(stage)
                print("training", flush=True)
        try:
            sbipp.infer("mmd", table, prior, max_iterations=10**6, min_iterations=10**6, generator={"hidden": [16]}, progress=progress)
        except sbipp.Interrupted as stopped:
            print("interrupted", stopped.partial.method, stopped.partial.sample([0.0, 0.0], 5).shape, flush=True)
    """
    out, err = interrupt_python(code, lambda line: line.strip() == "training", pause=0.3)
    assert out.strip() == "interrupted mmd (5, 2)"
    assert "[sbipp] interrupted" in err


def test_sigint_while_mcmc_samples_raises_interrupted_and_keeps_nothing():
    # A real Ctrl-C while an NLE posterior's chains run (a warm-up of 10^8 iterations: they would not
    # end by themselves). The progress callable sees the chains' stage, so the signal comes during them.
    code = """
        import sys, sbipp
        simulator = sbipp.Simulator.builtin("gaussian_linear", {"dim": 2})
        prior = sbipp.Prior.builtin("gaussian_linear", {"dim": 2})
        table = sbipp.simulate(simulator, 300, prior)
        posterior = sbipp.infer("nle", table, prior, max_epochs=5, density_estimator={"type": "maf", "transforms": 2, "hidden": [16]},
                                mcmc={"chains": 4, "warmup": 10**8, "init_candidates": 200})
        stages = []
        def progress(stage, done, total, unit, status):
            if not stages:
                stages.append(stage)
                print(stage, unit, total, flush=True)
        try:
            posterior.sample([0.4, -0.2], 100, progress=progress)
        except sbipp.Interrupted as stopped:
            print("interrupted", stopped.partial, flush=True)
    """
    out, _ = interrupt_python(code, lambda line: line.split()[:2] == ["sample", "(MCMC)"])
    assert out.strip() == "interrupted None"


def test_calibration_of_a_posterior(gaussian_linear_2d, tmp_path):
    python, _, prior = gaussian_linear_2d
    table = sbipp.simulate(python, 400, prior, seed=1)
    posterior = sbipp.infer("mmd", table, prior, max_iterations=100, min_iterations=50, eval_every=50, generator={"hidden": [16]})
    # The simulator comes from the posterior's provenance ("gaussian_linear", dim 2, built in).
    result = sbipp.calibrate(posterior, draws=60, posterior_samples=50, seed=2, folder=tmp_path / "calibration")
    assert result.verdict in ("calibrated", "over-confident", "under-confident", "miscalibrated")
    assert result.draws == 60 and len(result.coverage) == len(result.coverage_levels) == 19
    assert set(result.sbc_p_values) == {"theta_1", "theta_2"}
    assert result.plain_summary().startswith(result.verdict)
    assert (tmp_path / "calibration" / "calibration.md").is_file()
    # Bit-identical for the same seed, whatever the threads.
    again = sbipp.calibrate(posterior, python, draws=60, posterior_samples=50, seed=2, threads=1)
    assert again.coverage == result.coverage and again.verdict == result.verdict
    with pytest.raises(sbipp.InputError, match=r"options\.drawz"):
        sbipp.calibrate(posterior, drawz=10)
