#include "simulators/external_process.hpp"

#include "sbi/random/rng.hpp"

#include "sbi/priors/prior.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/spec/spec.hpp"
#include "simulators/from_spec.hpp"

#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace sbi;
using namespace sbi::simulators;
using nlohmann::json;

namespace {

const std::filesystem::path kScriptDir = std::filesystem::path(SBI_TEST_DIR) / "simulators" / "external";
const std::string kToy = (kScriptDir / "toy_sim.py").string();

// Timeouts come from what a test tests: tests of something else allow 10 minutes (they never wait for
// it: a worker that answers is never timed out), and tests of the timeout send a worker that hangs
// forever (the toy's 7 and 19) only after it has answered once, so that start-up, however slow on a
// busy machine, is covered by the 10-minute start-up allowance.
constexpr double kNeverTimeout = 600;

json section(json extra = json::object(), std::vector<std::string> args = {}) {
  json command = json::array({"python3", kToy});
  for (const auto& a : args) command.push_back(a);
  json s = {{"command", command}, {"workers", 1}, {"timeout_s", kNeverTimeout}};
  for (auto& [k, v] : extra.items()) s[k] = v;
  return s;
}

Simulator make(const json& s, std::size_t data_dim_hint = 2, Names params = {"a", "b"}) {
  return make_external_simulator(s, "simulator", params, data_dim_hint, kScriptDir);
}

struct Run {
  RowMatrix y;
  std::vector<SimulationOutcome> outcomes;
};

Run run(const Simulator& sim, const RowMatrix& theta, std::uint64_t seed = 42) {
  Run r;
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(theta.rows()));
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = stream_seed(seed, i, 1);
  r.y.resize(theta.rows(), static_cast<Eigen::Index>(sim.data_dim()));
  r.outcomes.resize(seeds.size());
  sim.simulate_batch(theta, r.y, seeds, r.outcomes);
  return r;
}

// n rows of well-behaved θ (none of the toy simulator's trigger values).
RowMatrix good_theta(Eigen::Index n) {
  RowMatrix theta(n, 2);
  for (Eigen::Index i = 0; i < n; ++i) {
    theta(i, 0) = 0.25 * static_cast<double>(i) + 0.1;
    theta(i, 1) = -1.5 + 0.125 * static_cast<double>(i);
  }
  return theta;
}

std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Waits until a child process of ours has exited, without reaping it (the simulator reaps its
// workers). Polls: what is waited for is an event, not a duration.
void wait_for_a_child_to_exit() {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TEST_CASE("external simulator: array protocol answers y = 2 theta", "[external]") {
  const auto sim = make(section({{"workers", 2}}));
  CHECK(sim.name() == "external:python3");
  CHECK(sim.runs_own_workers());
  CHECK(sim.thread_safe());
  CHECK(sim.info().data_names == Names{"data_1", "data_2"});
  CHECK(sim.info().options.at("workers") == 2);
  const RowMatrix theta = good_theta(10);
  const auto r = run(sim, theta);
  for (Eigen::Index i = 0; i < theta.rows(); ++i) {
    INFO("row " << i << ": " << r.outcomes[static_cast<std::size_t>(i)].message);
    REQUIRE(r.outcomes[static_cast<std::size_t>(i)].ok());
    CHECK(r.y(i, 0) == 2 * theta(i, 0));
    CHECK(r.y(i, 1) == 2 * theta(i, 1));
  }
  // Workers stay alive across batches.
  const auto again = run(sim, theta);
  CHECK(again.y == r.y);
}

TEST_CASE("external simulator: object protocol gives the same table for 1 and 3 workers", "[external]") {
  const RowMatrix theta = good_theta(24);
  const auto one = run(make(section({{"protocol", "object"}, {"workers", 1}})), theta);
  const auto three = run(make(section({{"protocol", "object"}, {"workers", 3}})), theta);
  for (std::size_t i = 0; i < one.outcomes.size(); ++i) {
    REQUIRE(one.outcomes[i].ok());
    REQUIRE(three.outcomes[i].ok());
  }
  CHECK(one.y == three.y);
  // y = 2θ + 0.1 e: close to 2θ but not equal; another seed gives other noise.
  CHECK((one.y - 2 * theta).cwiseAbs().maxCoeff() < 0.6);
  CHECK((one.y - 2 * theta).cwiseAbs().maxCoeff() > 0.0);
  const auto other = run(make(section({{"protocol", "object"}})), theta, 43);
  CHECK(other.y != one.y);
}

TEST_CASE("external simulator: seeds and indices reach the worker", "[external]") {
  const auto sim = make(section({{"protocol", "object"}, {"workers", 2}}, {"--with-index", "--with-seed"}), 0);
  CHECK(sim.data_dim() == 0);  // learnt from the first reply
  const RowMatrix theta = good_theta(6);
  const auto r = run(sim, theta, 7);
  REQUIRE(r.y.cols() == 4);
  CHECK(sim.data_dim() == 4);
  CHECK(sim.info().data_names.back() == "data_4");
  for (std::size_t i = 0; i < 6; ++i) {
    REQUIRE(r.outcomes[i].ok());
    const auto row = static_cast<Eigen::Index>(i);
    CHECK(r.y(row, 2) == static_cast<double>(i));  // simulate_batch: indices 0..n-1
    CHECK(r.y(row, 3) == static_cast<double>(stream_seed(7, i, 1) % 1000003));
  }

  // simulate_indexed sends the caller's indices.
  auto model = std::make_shared<ExternalProcessSimulator>(
      parse_external_simulator_options(section({{"protocol", "object"}}, {"--with-index"}), "simulator", kScriptDir),
      Names{"a", "b"}, 3);
  std::vector<std::uint64_t> seeds = {1, 2, 3}, indices = {1000, 18446744073709551615ULL, 5};
  std::vector<SimulationOutcome> outcomes(3);
  RowMatrix y(3, 3);
  model->simulate_indexed(good_theta(3), y, seeds, indices, outcomes);
  CHECK(y(0, 2) == 1000.0);
  CHECK(y(1, 2) == 18446744073709551615.0);
  CHECK(y(2, 2) == 5.0);
}

TEST_CASE("external simulator: the factory with a prior learns D before any run", "[external]") {
  const auto prior = prior_from_json(json::parse(R"([{"name": "a", "dist": "uniform", "low": 0.2, "high": 0.4},
                                                     {"name": "b", "dist": "uniform", "low": 0, "high": 1}])"));
  const auto sim = make_external_simulator(section({{"protocol", "object"}}, {"--with-index"}), "simulator", *prior, 0,
                                           kScriptDir);
  CHECK(sim.data_dim() == 3);
  CHECK(sim.info().parameter_names == Names{"a", "b"});
  CHECK(sim.info().data_names == Names{"data_1", "data_2", "data_3"});
  // A simulator that always fails cannot tell its dimension.
  const json failing = {{"command", {"sh", "-c", "while read l; do echo '{\"error\": \"nope\"}'; done"}}, {"timeout_s", kNeverTimeout}};
  try {
    make_external_simulator(failing, "simulator", *prior, 0, kScriptDir);
    FAIL("expected a SimulationError");
  } catch (const SimulationError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(contains(message, "number of simulator outputs is not known"));
    CHECK(contains(message, "nope"));
  }
}

TEST_CASE("external simulator: a crash fails that simulation only, with theta and stderr", "[external]") {
  auto model = std::make_shared<ExternalProcessSimulator>(
      parse_external_simulator_options(section(), "simulator", kScriptDir), Names{"a", "b"}, 2);
  const Simulator sim(model);
  RowMatrix theta = good_theta(6);
  theta(2, 0) = 13;
  theta(3, 0) = 17;  // SIGSEGV
  theta(5, 0) = 29;  // invalid UTF-8 on stderr
  const auto r = run(sim, theta);
  CHECK(r.outcomes[0].ok());
  CHECK(r.outcomes[1].ok());
  REQUIRE_FALSE(r.outcomes[2].ok());
  const auto& message = r.outcomes[2].message;
  INFO(message);
  CHECK(contains(message, "a=13"));
  CHECK(contains(message, "exited with status 3"));
  CHECK(contains(message, "cannot simulate theta=13, giving up"));
  REQUIRE_FALSE(r.outcomes[3].ok());
  CHECK(contains(r.outcomes[3].message, "signal 11"));
  CHECK(r.outcomes[4].ok());
  CHECK(r.y(4, 0) == 2 * theta(4, 0));
  CHECK(std::isnan(r.y(2, 0)));
  REQUIRE_FALSE(r.outcomes[5].ok());
  CHECK(contains(r.outcomes[5].message, "bad bytes ??? end"));
  CHECK_NOTHROW(json(r.outcomes[5].message).dump());
  CHECK(model->restarts() == 2);
}

TEST_CASE("external simulator: a hung worker times out and is replaced", "[external]") {
  // One worker: row 0 is its first request (start-up allowance of 10 minutes), row 1 hangs forever
  // (plain timeout of 0.5 s: it has answered), row 2 goes to the replacement (a first request again).
  const auto sim = make(section({{"timeout_s", 0.5}, {"startup_timeout_s", kNeverTimeout}}));
  RowMatrix theta = good_theta(3);
  theta(1, 0) = 7;
  const auto r = run(sim, theta);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("row " << i << ": " << r.outcomes[i].message);
    CHECK(r.outcomes[i].ok() == (i != 1));
  }
  const auto& message = r.outcomes[1].message;
  INFO(message);
  CHECK(contains(message, "no reply within 0.5 s"));
  CHECK(contains(message, "a=7"));
  CHECK(contains(message, "killed"));
  CHECK(contains(message, "thinking very hard"));
  CHECK(r.y(2, 0) == 2 * theta(2, 0));
}

TEST_CASE("external simulator: an answer without its newline times out with a hint", "[external]") {
  const auto sim = make(section({{"timeout_s", 0.3}, {"startup_timeout_s", kNeverTimeout}}));
  RowMatrix theta = good_theta(3);
  theta(1, 0) = 19;  // the worker's second request: it has answered, so the plain timeout applies
  const auto r = run(sim, theta);
  CHECK(r.outcomes[0].ok());
  REQUIRE_FALSE(r.outcomes[1].ok());
  INFO(r.outcomes[1].message);
  CHECK(contains(r.outcomes[1].message, "no reply within 0.3 s"));
  CHECK(contains(r.outcomes[1].message, "it had written \"[38.0, "));
  CHECK(contains(r.outcomes[1].message, "without ending the line"));
  CHECK(r.outcomes[2].ok());
}

TEST_CASE("external simulator: a worker that exits between batches is replaced silently", "[external]") {
  auto model = std::make_shared<ExternalProcessSimulator>(
      parse_external_simulator_options(section(), "simulator", kScriptDir), Names{"a", "b"}, 2);
  const Simulator sim(model);
  RowMatrix theta = good_theta(3);
  theta(2, 0) = 23;  // answers, then exits
  const auto first = run(sim, theta);
  for (const auto& o : first.outcomes) CHECK(o.ok());
  wait_for_a_child_to_exit();  // the worker has gone before the next batch starts
  const auto second = run(sim, good_theta(3));
  for (const auto& o : second.outcomes) {
    INFO(o.message);
    CHECK(o.ok());
  }
  CHECK(model->restarts() == 1);
}

TEST_CASE("external simulator: garbage, error replies, wrong lengths and null", "[external]") {
  const auto sim = make(section());
  RowMatrix theta = good_theta(7);
  theta(1, 0) = 5;   // garbage
  theta(2, 0) = 9;   // {"error": "negative rate"}
  theta(3, 0) = 3;   // three values instead of two
  theta(4, 0) = 11;  // null -> NaN, a finished simulation (the runner flags it as non-finite)
  theta(6, 0) = 31;  // [NaN, -Infinity] as Python writes them
  const auto r = run(sim, theta);
  CHECK(r.outcomes[6].ok());
  CHECK(std::isnan(r.y(6, 0)));
  CHECK(r.y(6, 1) == -std::numeric_limits<double>::infinity());
  CHECK(r.outcomes[0].ok());
  REQUIRE_FALSE(r.outcomes[1].ok());
  CHECK(contains(r.outcomes[1].message, "\"this is not json at all\""));
  CHECK(contains(r.outcomes[1].message, "a=5"));
  REQUIRE_FALSE(r.outcomes[2].ok());
  CHECK(contains(r.outcomes[2].message, "negative rate"));
  CHECK(contains(r.outcomes[2].message, "a=9"));
  REQUIRE_FALSE(r.outcomes[3].ok());
  CHECK(contains(r.outcomes[3].message, "has 3 values, expected 2"));
  CHECK(r.outcomes[4].ok());
  CHECK(std::isnan(r.y(4, 0)));
  CHECK(r.y(4, 1) == 2 * theta(4, 1));
  CHECK(r.outcomes[5].ok());
  CHECK(r.y(5, 0) == 2 * theta(5, 0));
}

TEST_CASE("external simulator: commands that cannot work give clear errors", "[external]") {
  SECTION("a program that does not exist") {
    try {
      make(json{{"command", {"sbi-no-such-program-xyz", "--flag"}}});
      FAIL("expected an InputError");
    } catch (const InputError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(contains(message, "simulator.command"));
      CHECK(contains(message, "sbi-no-such-program-xyz"));
      CHECK(contains(message, "No such file or directory"));
    }
  }
  SECTION("a program that dies on start") {
    const auto sim = make(json{{"command", {"python3", "no_such_script.py"}}, {"workers", 2}, {"timeout_s", kNeverTimeout}});
    try {
      run(sim, good_theta(10));
      FAIL("expected a SimulationError");
    } catch (const SimulationError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(contains(message, "python3 no_such_script.py"));
      CHECK(contains(message, "before answering"));
      CHECK(contains(message, "No such file or directory"));  // python's own complaint, from stderr
    }
  }
}

TEST_CASE("external simulator: writing to a worker that closed its stdin does not kill us", "[external]") {
  // The worker answers one request, but closes its stdin before answering, and stays alive: our next
  // request meets a pipe without a reader (EPIPE; SIGPIPE would end the test program). That request
  // fails at once, the worker is replaced, and the replacement answers the next one.
  const auto sim = make(json{{"command", {"sh", "-c", "read line; exec 0<&-; echo 'closed' >&2; echo '[1, 2]'; exec sleep 3600"}},
                             {"workers", 1}, {"timeout_s", kNeverTimeout}});
  const auto r = run(sim, good_theta(4));
  CHECK(r.outcomes[0].ok());
  CHECK(r.outcomes[2].ok());
  for (std::size_t i : {1, 3}) {
    INFO(r.outcomes[i].message);
    REQUIRE_FALSE(r.outcomes[i].ok());
    CHECK(contains(r.outcomes[i].message, "closed its standard input before the request"));
    CHECK(contains(r.outcomes[i].message, "closed"));
  }
}

TEST_CASE("external simulator: replies of the wrong length from the start stop the run", "[external]") {
  const auto sim = make(section({{"data_names", {"x", "y", "z"}}}), 3);
  try {
    run(sim, good_theta(10));
    FAIL("expected a SimulationError");
  } catch (const SimulationError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(contains(message, "answers with 2 values, but 3 are expected"));
  }
}

TEST_CASE("external simulator: section options are checked with their JSON path", "[external]") {
  const auto error_of = [](const json& s) -> std::string {
    try {
      make(s);
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(error_of(section({{"workers", 0}})) == "simulator.workers: expected an integer ≥ 1, got 0");
  CHECK(error_of(section({{"workers", 1.5}})) == "simulator.workers: expected an integer ≥ 1, got 1.5");
  CHECK(error_of(section({{"timeout_s", -1}})) == "simulator.timeout_s: expected a positive number, got -1");
  CHECK(contains(error_of(section({{"protocol", "xml"}})), "simulator.protocol: expected one of \"array\" or \"object\""));
  CHECK(contains(error_of(section({{"wrokers", 2}})), "simulator.wrokers: unknown key"));
  CHECK(contains(error_of(json{{"workers", 2}}), "simulator.command: missing"));
  CHECK(contains(error_of(json{{"command", json::array()}}), "simulator.command: expected a non-empty list of strings"));
  CHECK(contains(error_of(json{{"command", "python3 sim.py"}}), "simulator.command: expected a non-empty list"));
  CHECK(contains(error_of(section({{"data_names", {"x", "x"}}})), "simulator.data_names[1]: \"x\" appears twice"));
  CHECK(contains(error_of(section({{"data_names", {"x", "y", "z"}}})), "3 names, but the observation has 2 values"));
  CHECK(contains(error_of(section({{"working_directory", "no/such/dir"}})), "simulator.working_directory: no such directory"));
  CHECK(contains(error_of(section({{"name", "lotka_volterra"}})), "simulator.name: expected \"external\""));
}

TEST_CASE("external simulator: relative paths resolve against the spec's folder", "[external]") {
  // "toy_sim.py" is found in the base directory whatever the current directory is.
  const auto options = parse_external_simulator_options(
      json{{"command", {"python3", "toy_sim.py"}}, {"data_names", {"y1", "y2"}}}, "simulator", kScriptDir);
  CHECK(options.command[0] == "python3");
  CHECK(options.command[1] == (kScriptDir / "toy_sim.py").lexically_normal().string());
  CHECK(options.working_directory == std::filesystem::absolute(kScriptDir).lexically_normal());
  const auto sim = make(json{{"command", {"python3", "toy_sim.py"}}, {"data_names", {"y1", "y2"}}, {"workers", 1}, {"timeout_s", kNeverTimeout}});
  CHECK(sim.info().data_names == Names{"y1", "y2"});
  CHECK(sim.simulate_one(std::vector<double>{0.5, 1.0}, 1)(1) == 2.0);
}

TEST_CASE("external simulator: no leaked pipes or zombies after crashes, timeouts and shutdown", "[external]") {
  // Regression: this test failed on a loaded machine (a 0.3 s timeout against Python's start-up).
  // Now every good row is the first request of its worker (10-minute start-up allowance) and only
  // the hang, sent to a worker that has answered, meets the 0.3 s timeout.
  const std::size_t fds_before = open_fd_count();
  {
    const auto sim = make(section({{"timeout_s", 0.3}, {"startup_timeout_s", kNeverTimeout}}));
    RowMatrix theta = good_theta(5);
    theta(1, 0) = 7;   // hangs: timed out, killed, replaced
    theta(2, 0) = 13;  // crashes the replacement
    theta(3, 0) = 5;   // garbage from the next one
    const auto r = run(sim, theta);
    for (std::size_t i : {0, 4}) CHECK(r.outcomes[i].ok());
    for (std::size_t i : {1, 2, 3}) CHECK_FALSE(r.outcomes[i].ok());
  }
  CHECK(open_fd_count() == fds_before);
  int status = 0;
  CHECK(::waitpid(-1, &status, WNOHANG) == -1);  // no children left, not even zombies
  CHECK(errno == ECHILD);
}

TEST_CASE("external simulator: workers that ignore the end of their input are killed at shutdown", "[external]") {
  auto options = parse_external_simulator_options(section({{"workers", 2}}, {"--linger"}), "simulator", kScriptDir);
  options.shutdown_grace_s = 0.2;
  auto model = std::make_shared<ExternalProcessSimulator>(options, Names{"a", "b"}, 2);
  for (const auto& o : run(Simulator(model), good_theta(4)).outcomes) CHECK(o.ok());
  model.reset();  // the last owner: closes stdin, waits 0.2 s, kills (they would linger for an hour)
  int status = 0;
  CHECK(::waitpid(-1, &status, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("external simulator: concurrent callers are serialised", "[external]") {
  const auto sim = make(section({{"workers", 2}}));
  std::vector<Run> runs(3);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < runs.size(); ++t)
    threads.emplace_back([&, t] { runs[t] = run(sim, good_theta(30), t); });
  for (auto& th : threads) th.join();
  for (const auto& r : runs) {
    for (const auto& o : r.outcomes) REQUIRE(o.ok());
    CHECK(r.y == 2 * good_theta(30));
  }
}

TEST_CASE("external simulator: the example spec in data/specs runs", "[external]") {
  const auto spec_dir = std::filesystem::path(SBI_SOURCE_DIR) / "data" / "specs";
  std::ifstream in(spec_dir / "external_example.json");
  REQUIRE(in);
  json spec = json::parse(in);
  spec["simulator"]["timeout_s"] = kNeverTimeout;  // the example's 10 s is not what this test tests
  REQUIRE(is_external_simulator_section(spec.at("simulator")));
  const auto prior = prior_from_json(spec.at("prior"));
  const auto sim = make_external_simulator(spec.at("simulator"), "simulator", prior->names(),
                                           spec.at("observation").size(), spec_dir);
  CHECK(sim.name() == "external:python3");
  CHECK(sim.info().data_names == Names{"mean", "sd", "min", "max"});
  Rng rng(3);
  const RowMatrix theta = prior->sample_batch(rng, 8);
  const auto r = run(sim, theta);
  for (Eigen::Index i = 0; i < theta.rows(); ++i) {
    INFO(r.outcomes[static_cast<std::size_t>(i)].message);
    REQUIRE(r.outcomes[static_cast<std::size_t>(i)].ok());
    CHECK(r.y(i, 1) > 0.0);               // sd
    CHECK(r.y(i, 2) <= r.y(i, 0));        // min <= mean
    CHECK(r.y(i, 0) <= r.y(i, 3));        // mean <= max
  }
}

TEST_CASE("external simulator through the runner: indices and the same table for any batching", "[external]") {
  const auto prior = prior_from_json(json::parse(R"([{"name": "a", "dist": "uniform", "low": 0.2, "high": 0.4},
                                                     {"name": "b", "dist": "uniform", "low": 0, "high": 1}])"));
  const auto collect = [&](int workers, std::size_t batch_size) {
    const auto sim = make(section({{"protocol", "object"}, {"workers", workers}}, {"--with-index"}), 3);
    SimulationOptions options;
    options.threads = 2;
    options.batch_size = batch_size;
    RowMatrix y(0, 3);
    std::vector<std::uint64_t> indices;
    const auto summary = simulate_from_prior(sim, *prior, 30, 11, 100, options, [&](const SimulationChunk& chunk) {
      const auto old = y.rows();
      y.conservativeResize(old + chunk.y.rows(), 3);
      y.bottomRows(chunk.y.rows()) = chunk.y;
      indices.insert(indices.end(), chunk.indices.begin(), chunk.indices.end());
    });
    CHECK(summary.kept == 30);
    return std::pair{y, indices};
  };
  const auto [y1, indices1] = collect(1, 7);
  const auto [y3, indices3] = collect(3, 256);
  CHECK(y1 == y3);
  REQUIRE(indices1.size() == 30);
  for (std::size_t i = 0; i < 30; ++i) {
    CHECK(indices1[i] == 100 + i);
    CHECK(y1(static_cast<Eigen::Index>(i), 2) == static_cast<double>(100 + i));  // the worker saw the run's index
  }
}

TEST_CASE("external simulator: the example spec builds through the spec layer", "[external]") {
  const auto spec_dir = std::filesystem::path(SBI_SOURCE_DIR) / "data" / "specs";
  std::ifstream in(spec_dir / "external_example.json");
  json document = json::parse(in);
  document["simulator"]["timeout_s"] = kNeverTimeout;
  const auto spec = parse_spec(document, spec_dir);
  REQUIRE(spec.has_external_simulator());
  const auto model = build_spec_model(spec);
  CHECK(model.simulator.data_dim() == 4);
  std::vector<SimulationOutcome> outcomes;
  SimulationOptions options;
  const RowMatrix theta = (RowMatrix(2, 2) << 0.5, -1.0, 1.0, 0.0).finished();
  const RowMatrix y = simulate_given(model.simulator, theta, spec.seed, 0, options, &outcomes);
  REQUIRE(y.rows() == 2);
  for (const auto& o : outcomes) CHECK(o.ok());
}

TEST_CASE("external simulator: throughput of a trivial python simulator", "[external][.slow]") {
  for (int workers : {1, 2}) {
    const auto sim = make(section({{"workers", workers}}));
    run(sim, good_theta(2 * workers));  // warm up: workers started
    const RowMatrix theta = good_theta(20000);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = run(sim, theta);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& o : r.outcomes) REQUIRE(o.ok());
    WARN("workers = " << workers << ": " << static_cast<double>(theta.rows()) / elapsed << " simulations/s");
  }
}

TEST_CASE("external simulator, array protocol: a worker that writes more lines than requests voids its answers", "[external]") {
  // Regression: an extra reply line shifted later replies onto the wrong θ (14 of 60 rows wrong, the
  // table said 0 failures). The toy's 37 writes a stale line, then its answer, in one write.
  const auto sim = make(section());
  RowMatrix theta = good_theta(6);
  theta(2, 0) = 37;
  const auto r = run(sim, theta);
  // Rows 0-2 were answered by the worker that wrote the stray line: none is trusted, and the stale
  // [111, 111] is never taken for row 2's answer.
  for (std::size_t i : {0, 1, 2}) {
    INFO("row " << i << ": " << r.outcomes[i].message);
    REQUIRE_FALSE(r.outcomes[i].ok());
    CHECK(contains(r.outcomes[i].message, "wrote more lines than it was sent requests"));
    CHECK(std::isnan(r.y(static_cast<Eigen::Index>(i), 0)));
  }
  // The replacement answers the rest correctly.
  for (std::size_t i : {3, 4, 5}) {
    INFO("row " << i << ": " << r.outcomes[i].message);
    REQUIRE(r.outcomes[i].ok());
    CHECK(r.y(static_cast<Eigen::Index>(i), 0) == 2 * theta(static_cast<Eigen::Index>(i), 0));
  }
  for (Eigen::Index i = 0; i < r.y.rows(); ++i) CHECK(r.y(i, 0) != 111.0);
}

TEST_CASE("external simulator, object protocol: replies must echo their request's id", "[external]") {
  SECTION("a stale line with an old id fails only its own request") {
    const auto sim = make(section({{"protocol", "object"}}));
    RowMatrix theta = good_theta(5);
    theta(2, 0) = 37;  // writes {"id": k-1, "y": [111, 111]} before its answer
    const auto r = run(sim, theta);
    for (std::size_t i : {0, 1, 3, 4}) {
      INFO("row " << i << ": " << r.outcomes[i].message);
      CHECK(r.outcomes[i].ok());  // matched by id: the earlier answers stand
    }
    REQUIRE_FALSE(r.outcomes[2].ok());
    INFO(r.outcomes[2].message);
    CHECK(contains(r.outcomes[2].message, "out of step"));
    CHECK(contains(r.outcomes[2].message, "a=37"));
    for (Eigen::Index i = 0; i < r.y.rows(); ++i) CHECK(r.y(i, 0) != 111.0);
  }
  SECTION("a bare list (no id) is not an answer") {
    const auto sim = make(json{{"command", {"sh", "-c", "while read l; do echo '[1, 2]'; done"}}, {"protocol", "object"},
                               {"timeout_s", kNeverTimeout}});
    const auto r = run(sim, good_theta(2));
    for (const auto& o : r.outcomes) {
      INFO(o.message);
      REQUIRE_FALSE(o.ok());
      CHECK(contains(o.message, "\"id\": <the request's id>"));
    }
  }
  SECTION("an answer with the right id and an error") {
    const auto sim = make(section({{"protocol", "object"}}));
    RowMatrix theta = good_theta(3);
    theta(1, 0) = 9;
    const auto r = run(sim, theta);
    CHECK(r.outcomes[0].ok());
    REQUIRE_FALSE(r.outcomes[1].ok());
    CHECK(contains(r.outcomes[1].message, "negative rate"));
    CHECK(r.outcomes[2].ok());
  }
}

TEST_CASE("external simulator: data names that cannot be CSV columns are refused", "[external]") {
  const auto error_of = [](const json& names) -> std::string {
    try {
      make(section({{"data_names", names}}), 2);
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(contains(error_of({"x", "a,b"}), "simulator.data_names[1]: a name must not contain a comma"));
  CHECK(contains(error_of({"#x", "y"}), "simulator.data_names[0]: a name must not start with '#'"));
  CHECK(contains(error_of({"x", "y\nz"}), "line break"));
  CHECK(contains(error_of({"x", "say \"y\""}), "double quote"));
}
