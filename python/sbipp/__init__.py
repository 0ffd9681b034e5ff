"""sbipp: simulation-based inference with sbi++ from Python.

    import numpy as np, sbipp

    def simulate(theta, seeds):                        # a batch: theta (n, 2) -> y (n, 2)
        return theta + 0.5 * sbipp.normals(seeds, 2)   # row r draws from its own seed only

    simulator = sbipp.Simulator(simulate, ["a", "b"], ["y1", "y2"])
    prior = sbipp.Prior.from_spec([{"name": "a", "dist": "uniform", "low": -3, "high": 3},
                                   {"name": "b", "dist": "uniform", "low": -3, "high": 3}])
    table = sbipp.simulate(simulator, 4000, prior, seed=1)          # the same table for the same seed
    posterior = sbipp.infer("mmd", table, prior, max_iterations=1500)   # any method in sbipp.methods()
    samples = posterior.sample([1.0, -0.5], 2000, seed=7)
    posterior.save("posterior/")                                   # `sbi sample posterior/ ...` reads it

The package is a thin layer over the C++ library (the extension module sbipp._core): every method of
the library's registry is reachable by name, options are checked by the library (errors name the
option's JSON path), built-in simulators and training run with the GIL released, long calls show a
progress bar, and Ctrl-C stops them cleanly (raising sbipp.Interrupted with what was finished).
"""

import os
import warnings

from . import _core
from ._core import (
    C2stResult,
    CalibrationResult,
    CompareReport,
    FileError,
    InputError,
    MmdResult,
    Posterior,
    Prior,
    Rng,
    SimulationError,
    Simulator,
    Spec,
    Table,
    builtin_simulators,
    normals,
    posterior_kinds,
    read_csv,
    stream_seed,
    summary_table,
    uniforms,
    write_csv,
)
from ._progress import Progress as _Progress

__version__ = _core.__version__

__all__ = [
    "C2stResult", "CalibrationResult", "CompareReport", "FileError", "InputError", "Interrupted", "MmdResult", "Posterior", "Prior", "Rng",
    "SimulationError", "Simulator", "Spec", "Table", "abc", "builtin_simulators", "c2st", "calibrate", "compare", "infer", "load_posterior",
    "load_spec", "load_table", "method_options", "methods", "mmd", "normals", "posterior_kinds", "read_csv", "simulate",
    "stream_seed", "summary_table", "uniforms", "write_csv",
]

# Keys of a spec's "inference" section that belong to the run, not to the method (sbi/inference/method.hpp).
_RUN_KEYS = ("method", "simulations", "table")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a long call after the work in flight.

    `partial` holds what was finished: the table of the finished simulations (simulate), the
    posterior with the best weights so far (infer; None when interrupted while simulating), the
    report of the methods done (compare).
    """

    def __init__(self, message, partial=None):
        super().__init__(message)
        self.partial = partial


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(spec, observation=None):
    """A spec from a JSON file (path) or a dict (relative paths resolve against the current folder).

    `observation`: a CSV file (header + one row) that replaces the spec's observation. A spec without
    a simulator trains on the simulations its "inference": {"table": ...} names (spec.table).
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        loaded = Spec.from_dict(spec, ".", os.fspath(observation) if observation else "")
    else:
        loaded = Spec.load(os.fspath(spec), os.fspath(observation) if observation else "")
    _warn_dropped(loaded.table_source, loaded.dropped_rows, stacklevel=3)
    return loaded


def _warn_dropped(source, dropped, stacklevel):
    """Says that `dropped` rows of an imported table were left out (as `sbi infer` does on stderr)."""
    if dropped:
        warnings.warn(f"{source}: {dropped} row{'' if dropped == 1 else 's'} with NaN or infinite data left out (failed simulations)",
                      stacklevel=stacklevel + 1)


def load_table(path, prior=None):
    """A table file written by `sbi simulate` or Table.save (CSV or binary .sbt), or, with `prior`, a
    plain CSV of simulations made elsewhere: a header naming the columns, the prior's parameter names
    are θ, an optional "index" column the simulation indices, every other column is data. Rows with
    NaN or infinite data are failed simulations, left out (a warning says how many)."""
    path = os.fspath(path)
    if Table.is_table_file(path):
        return Table.load(path)
    if prior is None:
        raise InputError(f"{path}: not a table written by sbi++; a plain CSV of simulations made elsewhere needs prior= "
                         "(its parameter names pick the θ columns)")
    table, dropped = Table.import_csv(path, prior)
    _warn_dropped(path, dropped, stacklevel=2)
    return table


def _posterior_sample(self, observation, n, seed=1, refine=None, progress=None):
    """n draws (rows) for `observation`; the same seed gives the same draws as `sbi sample --seed`.

    refine (lfvi, mmd): importance-resampling oversampling factor, 0 = off (default: as trained).
    progress: as for infer; posteriors sampled by MCMC (nle, nre, snle, snre) show their chains'
    progress, and Ctrl-C stops them, raising Interrupted (no samples are kept: chains stopped early
    have none worth keeping)."""
    with _Progress(progress) as bar:
        draws, interrupted = self._sample(observation, n, seed, refine, bar.callback)
    if interrupted:
        raise Interrupted("sample: interrupted while the MCMC chains ran; no samples were kept")
    return draws


Posterior.sample = _posterior_sample


def load_posterior(folder):
    """A posterior folder written by Posterior.save or `sbi infer`, whatever its method."""
    return _core.load_posterior(os.fspath(folder))


def methods():
    """Every registered method: a list of dicts with name, summary, needs ("table": trains on prior
    simulations; "simulator": simulates by itself), amortized (samples any observation)."""
    return _core.methods()


def method_options(method, **options):
    """The options `method` would run with: yours, checked, and every default filled in."""
    return _core.method_options(method, options)


# ---------------------------------------------------------------------------------------------
# Problems: what a call simulates from and trains under


def _is_spec_like(source):
    return isinstance(source, (Spec, dict, str, os.PathLike))


def _default_prior(simulator):
    """A built-in simulator's task prior (as a spec without "prior" gets it)."""
    builtin = {name for name, _ in builtin_simulators()}
    if simulator.name in builtin:
        return Prior.builtin(simulator.name, simulator.options)
    raise InputError(f'prior: missing (simulator "{simulator.name}" is not built in, so it has no prior of its own)')


class _Problem:
    """The pieces of a call's source: a spec, a simulator, or a table, and a prior."""

    def __init__(self, source, prior, observation=None):
        self.spec = self.simulator = self.table = None
        if isinstance(source, Table):
            self.table = source
        elif isinstance(source, Simulator):
            self.simulator = source
        elif _is_spec_like(source):
            self.spec = load_spec(source)
            self.simulator = self.spec.simulator
        else:
            raise TypeError(f"expected a Simulator, a Table, a Spec, a spec dict or a spec file, got {type(source).__name__}")
        if prior is None:
            if self.spec is not None:
                prior = self.spec.prior
            elif self.simulator is not None:
                prior = _default_prior(self.simulator)
            else:
                raise InputError("prior: missing (a table does not record the prior it was simulated under)")
        elif not isinstance(prior, Prior):
            prior = Prior.from_spec(prior)
        self.prior = prior
        if observation is None and self.spec is not None:
            observation = self.spec.observation
        self.observation = observation

    def get(self, name, given, fallback):
        """`given` if set, else the spec's setting `name`, else `fallback`."""
        if given is not None:
            return given
        if self.spec is not None:
            return getattr(self.spec, name)
        return fallback

    @property
    def document(self):
        return self.spec.document if self.spec is not None else None


def _merge(base, patch):
    """JSON merge: dicts are merged key by key, everything else replaced (as sbi compare merges options)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _spec_options(spec, method, keep_seed=True):
    """The spec's inference section as `method`'s options (when it is the spec's method), without the run's keys."""
    if spec is None or spec.method != method:
        return {}
    return {k: v for k, v in spec.inference.items() if k not in _RUN_KEYS and (keep_seed or k != "seed")}


# ---------------------------------------------------------------------------------------------
# Simulating


def simulate(source, n=None, prior=None, *, seed=None, threads=0, failure_policy=None, max_redraws=None, write_to=None, progress=None):
    """A reference table of n simulations from the prior, as `sbi simulate` makes it.

    source: a Simulator, a Spec, a spec dict or a spec file (its prior, seed, failure policy and
    inference.simulations are the defaults). prior: a Prior or its spec form (default: the spec's,
    or a built-in simulator's own). Simulation i draws θ and y from streams of (seed, i) alone, so
    the table is the same for any thread count. threads: 0 = all cores (one for a Python
    simulator). failure_policy: "drop", "redraw" or "fail". write_to: also stream the rows into this
    binary table file as they finish. Ctrl-C raises Interrupted with the finished rows.
    """
    problem = _Problem(source, prior)
    if problem.simulator is None:
        raise TypeError("simulate: needs a simulator or a spec")
    n = problem.get("simulations", n, None)
    if n is None:
        raise TypeError("simulate: give the number of simulations n")
    seed = problem.get("seed", seed, 1)
    with _Progress(progress) as bar:
        table, summary, interrupted = _core.simulate_prior_table(
            problem.simulator, problem.prior, n, seed, threads, problem.get("failure_policy", failure_policy, "drop"),
            problem.get("max_redraws", max_redraws, 100), os.fspath(write_to) if write_to else "", bar.callback)
    if interrupted:
        raise Interrupted(f"simulate: interrupted after {summary['kept']} of {n} simulations (the finished rows are in .partial)", table)
    return table


# ---------------------------------------------------------------------------------------------
# Inference


def infer(method=None, source=None, prior=None, *, observation=None, simulations=None, seed=None, threads=0, table=None,
          write_table_to=None, progress=None, **options):
    """Runs a registered method (sbipp.methods()) and returns its Posterior.

        infer("mmd", table, prior, max_iterations=2000)     # a table method on a table
        infer("smc", simulator, prior, simulations=10000, observation=y_obs)
        infer("spec.json")  or  infer("mmd", spec_dict)     # everything from a spec, as `sbi infer`

    source: a Table (table methods train on it), a Simulator (a table of `simulations` prior
    simulations is made first for table methods; simulator methods simulate within that budget), or
    a Spec / spec dict / spec file (method, options, budget, seed, observation and prior from it).
    observation: required by methods that are not amortised (ABC, sequential). seed: the run's
    seed (simulations and training; default the spec's, else 1). table: train on this table while
    the source gives simulator and prior. **options: the method's options (see
    sbipp.method_options(method)); a bad one raises InputError naming it. Ctrl-C stops training
    and raises Interrupted with the best posterior so far in .partial.
    """
    if source is None and method is not None and (not isinstance(method, str) or method.endswith(".json") or os.path.isfile(method)):
        method, source = None, method  # infer(spec) / infer("spec.json")
    if source is None:
        raise TypeError("infer: give a table, a simulator or a spec to infer from")
    problem = _Problem(source, prior, observation)
    if method is None:
        if problem.spec is None:
            raise TypeError("infer: name the method (sbipp.methods() lists them)")
        method = problem.spec.method
    given_table = table if table is not None else problem.table
    table_source = "given" if given_table is not None else ""
    if given_table is None and problem.spec is not None and problem.spec.table is not None:
        given_table, table_source = problem.spec.table, problem.spec.table_source  # simulations made elsewhere
    elif given_table is None and problem.spec is not None and "table" in problem.spec.inference:
        needs_table = any(m["name"] == method and m["needs"] == "table" for m in _core.methods())
        if needs_table:
            path = os.path.join(os.fspath(problem.spec.directory), problem.spec.inference["table"])
            given_table, table_source = load_table(path), path
    merged = _merge(_spec_options(problem.spec, method), options)
    simulations = problem.get("simulations", simulations, len(given_table) if given_table is not None else 10000)
    with _Progress(progress) as bar:
        posterior, details, interrupted = _core.run_method(
            method, merged, problem.prior, problem.simulator, given_table,
            None if problem.observation is None else problem.observation, problem.document,
            problem.get("failure_policy", None, "drop"), problem.get("max_redraws", None, 100), simulations,
            problem.get("seed", seed, 1), threads, table_source, os.fspath(write_table_to) if write_table_to else "",
            "inference" if problem.spec is not None and not options else "options", bar.callback)
    if interrupted:
        what = "while simulating" if posterior is None else "while training (the best posterior so far is in .partial)"
        raise Interrupted(f"infer: {method} interrupted {what}", posterior)
    return posterior


def abc(source, method="rejection", prior=None, **kwargs):
    """Approximate Bayesian computation for one observation: infer() with an ABC method
    ("rejection" on a prior table, with e.g. keep=100, regression=True; or "smc" within
    `simulations`). See infer for the arguments."""
    return infer(method, source, prior, **kwargs)


def compare(source, methods=None, prior=None, *, observation=None, simulations=None, samples=None, reference=None, seed=None,
            threads=0, options=None, folder=None, progress=None):
    """Runs several methods at the same simulation budget on one observation, as `sbi compare`.

    source: a Spec / spec file / dict, or a Simulator (with prior and observation). methods: names
    (default: every registered method). Table methods share one table of prior simulations.
    reference: reference posterior draws (array or CSV file) for C2ST; without it, MMD² between
    methods. options: {method: {its options}} (the spec's inference section goes to the spec's own
    method). folder: also write report.md, report.json, samples_<method>.csv and corner.png there.
    Returns a CompareReport (brief_report(), samples, c2st, to_dict()).
    """
    problem = _Problem(source, prior, observation)
    if problem.simulator is None:
        raise TypeError("compare: needs a simulator or a spec (methods that simulate by themselves need one)")
    if problem.observation is None:
        raise InputError("compare: no observation (give observation=..., or a spec with one)")
    names = [m["name"] for m in _core.methods()] if methods is None else list(methods)
    options = dict(options or {})
    unknown = set(options) - set(names)
    if unknown:
        raise InputError(f"options: names {sorted(unknown)}, which are not among the compared methods {names}")
    entries = [(name, _merge(_spec_options(problem.spec, name), options.get(name, {}))) for name in names]
    reference_source = ""
    if isinstance(reference, (str, os.PathLike)):
        reference_source = os.fspath(reference)
        reference = read_csv(reference_source, names=problem.prior.names)[1]
    elif reference is not None:
        reference_source = "given"
    spec_source = ""
    if problem.spec is not None and isinstance(source, (str, os.PathLike)):
        spec_source = os.fspath(source)
    with _Progress(progress) as bar:
        report, interrupted = _core.compare_methods(
            entries, problem.prior, problem.simulator, problem.observation, problem.document,
            problem.get("failure_policy", None, "drop"), problem.get("max_redraws", None, 100),
            problem.get("simulations", simulations, 10000), problem.get("seed", seed, 1), threads,
            problem.get("output_samples", samples, 10000), reference, reference_source, spec_source,
            "the spec" if observation is None and problem.spec is not None else "given",
            problem.spec.true_parameters if problem.spec is not None and observation is None else None,
            os.fspath(folder) if folder else "", bar.callback)
    if interrupted:
        raise Interrupted(f"compare: interrupted after {len(report.methods)} of {len(names)} methods (their report is in .partial)", report)
    return report


# ---------------------------------------------------------------------------------------------
# Diagnostics


def c2st(reference, samples, **options):
    """Classifier two-sample test as sbibm computes it (0.5 = indistinguishable): a C2stResult
    (float() gives the accuracy). options: seed, folds, max_samples, ... (sbi/diagnostics/c2st.hpp)."""
    return _core.c2st(reference, samples, options)


def mmd(x, y, bandwidth=None, unbiased=True, max_samples=5000):
    """MMD² with a Gaussian kernel between sample sets x and y: an MmdResult (float() gives MMD²).
    bandwidth None = the median pairwise distance within x (sbibm's choice)."""
    return _core.mmd(x, y, 0.0 if bandwidth is None else bandwidth, unbiased, max_samples)


def calibrate(posterior, simulator=None, prior=None, *, folder=None, progress=None, **options):
    """Checks a posterior's calibration where no reference posterior exists: simulation-based calibration,
    expected coverage of HPD regions and TARP on `draws` prior-predictive pairs (θ*, y*), with a verdict
    (sbi/diagnostics/calibration.hpp). Returns a CalibrationResult (verdict, plain_summary(), ...).

    simulator: the one the posterior was trained on (default: the built-in simulator its provenance
    names). prior: default the posterior's own. options: draws (N, 1000), posterior_samples (L, 1000),
    seed, threads, sbc, coverage, tarp, significance, ... (a bad one raises InputError naming it).
    folder: also write calibration.json, calibration.md and the pictures there. Ctrl-C raises
    Interrupted with the result over the pairs finished.
    """
    if simulator is None:
        name = posterior.provenance.get("simulator", "")
        if name not in {n for n, _ in builtin_simulators()}:
            raise InputError(f'simulator: missing (the posterior was trained on "{name}", which is not built in)')
        simulator = Simulator.builtin(name, posterior.provenance.get("simulator_options") or {})
    if prior is not None and not isinstance(prior, Prior):
        prior = Prior.from_spec(prior)
    with _Progress(progress) as bar:
        result, interrupted = _core.run_calibration(posterior, simulator, prior, options, bar.callback)
    if interrupted:
        raise Interrupted(f"calibrate: interrupted after {result.draws} draws (the result over them is in .partial)", result)
    if folder:
        result.save(os.fspath(folder))
    return result


def corner(samples, names=None, reference=None, **kwargs):
    """A corner plot (matplotlib Figure) of posterior draws; see sbipp.plot.corner."""
    from .plot import corner as _corner
    return _corner(samples, names=names, reference=reference, **kwargs)
