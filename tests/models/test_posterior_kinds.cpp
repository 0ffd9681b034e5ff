// sbi::Posterior and the method registry: every kind saves, loads through load_posterior and samples
// bit-identically; damaged, unknown and newer folders are refused with the file named; every
// registered method runs through run_method.
#include "models/abc_posterior.hpp"
#include "models/ensemble_posterior.hpp"
#include "models/ensemble_training.hpp"
#include "models/implicit_posterior.hpp"
#include "models/mcmc_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/util/version.hpp"
#include "sbi/workflows/run.hpp"
#include "simulators/gaussian.hpp"
#include "../sbi/inference/sequential_resume.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("sbi_kinds_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// gaussian_linear in 2 dimensions: prior N(0, 0.1 I), y ~ N(θ, 0.1 I).
InferenceProblem small_problem() {
  simulators::GaussianLinearOptions options;
  options.dim = 2;
  InferenceProblem problem;
  problem.simulator = simulators::make_gaussian_linear(options);
  problem.prior = simulators::gaussian_linear_prior(options);
  problem.observation = (Vector(2) << 0.6, -0.4).finished();
  return problem;
}

// Small, quick options per method (the defaults are for real runs).
nlohmann::json quick_options(const std::string& method) {
  if (method == "lfvi")
    return {{"max_iterations", 60}, {"min_iterations", 0}, {"eval_every", 20}, {"generator", {{"hidden", {16}}}}, {"discriminator", {{"hidden", {16}}}}};
  if (method == "slfvi")
    return {{"rounds", 2},         {"max_iterations", 60}, {"min_iterations", 0}, {"eval_every", 20}, {"generator", {{"hidden", {16}}}},
            {"discriminator", {{"hidden", {16}}}}, {"region_samples", 500}};
  if (method == "mmd") return {{"max_iterations", 60}, {"min_iterations", 0}, {"eval_every", 20}, {"generator", {{"hidden", {16}}}}};
  const nlohmann::json quick_mcmc = {{"chains", 4}, {"exploration_chains", 8}, {"warmup", 40}, {"init_candidates", 200}};
  const nlohmann::json quick_flow = {{"type", "maf"}, {"transforms", 2}, {"hidden", {16}}};
  if (method == "npe") return {{"max_epochs", 5}, {"density_estimator", quick_flow}};
  if (method == "nle") return {{"max_epochs", 5}, {"density_estimator", quick_flow}, {"mcmc", quick_mcmc}};
  if (method == "nre") return {{"max_epochs", 5}, {"classifier", {{"hidden", {16}}, {"batch_size", 64}}}, {"atoms", 4}, {"mcmc", quick_mcmc}};
  if (method == "snle") return {{"rounds", 2}, {"max_epochs", 5}, {"density_estimator", quick_flow}, {"mcmc", quick_mcmc}};
  if (method == "snpe") return {{"rounds", 2}, {"max_epochs", 5}, {"density_estimator", quick_flow}, {"hpd_samples", 500}};
  if (method == "snre") return {{"rounds", 2}, {"max_epochs", 5}, {"classifier", {{"hidden", {16}}, {"batch_size", 64}}}, {"atoms", 4}, {"mcmc", quick_mcmc}};
  return nlohmann::json::object();
}

// SLFVI with the flow generator, small and quick.
nlohmann::json quick_flow_slfvi_options() {
  return {{"generator", "flow"},
          {"rounds", 2},
          {"flow", {{"type", "maf"}, {"transforms", 2}, {"hidden", {16}}}},
          {"ratio", {{"classifier", {{"hidden", {16}}, {"batch_size", 64}}}, {"max_epochs", 5}}},
          {"max_iterations", 60},
          {"min_iterations", 0},
          {"eval_every", 20},
          {"refine", {{"steps", 40}, {"eval_every", 20}}},
          {"region_samples", 500}};
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("the registry holds the built-in methods and says what it knows", "[models][registry]") {
  const auto& registry = builtin_methods();
  for (const char* name : {"lfvi", "mmd", "npe", "nle", "nre", "slfvi", "snle", "snpe", "snre", "rejection", "smc"}) CHECK(registry.contains(name));
  CHECK(registry.at("smc").needs == MethodNeeds::simulator);
  CHECK_FALSE(registry.at("rejection").amortized);
  CHECK_THAT(registry.listing(), Catch::Contains("  lfvi ") && Catch::Contains("[one observation]"));
  CHECK_THROWS_WITH(registry.at("nuts"), Catch::StartsWith("unknown method \"nuts\" (registered: lfvi, mmd, nle, npe, nre, rejection, slfvi, smc, snle, snpe, snre"));
  MethodRegistry mine;
  Method m = registry.at("mmd");
  mine.add(m);
  CHECK_THROWS_AS(mine.add(m), std::invalid_argument);
  Method incomplete;
  incomplete.name = "incomplete";
  CHECK_THROWS_AS(mine.add(incomplete), std::invalid_argument);
  // Options: defaults filled in, unknown keys and bad values named by their JSON path.
  const auto parsed = parse_method_options(registry.at("rejection"), nlohmann::json::object());
  CHECK(parsed["keep"] == 100);
  CHECK_THROWS_WITH(parse_method_options(registry.at("smc"), {{"populaton", 10}}), Catch::StartsWith("inference.populaton: unknown key"));
  CHECK_THROWS_WITH(parse_method_options(registry.at("rejection"), {{"keep", 5}, {"epsilon", 0.1}}),
                    "inference: give at most one of keep, epsilon, quantile");
}

TEST_CASE("every registered method runs, saves, loads in place of itself and samples the same bits", "[models][registry][posterior]") {
  const InferenceProblem problem = small_problem();
  for (const auto& name : builtin_methods().names()) {
    INFO("method " << name);
    const Method& method = builtin_methods().at(name);
    const MethodRun run = run_method(method, quick_options(name), problem, {.simulations = 400, .seed = 2});
    REQUIRE(run.posterior);
    const Posterior& posterior = run.posterior;
    CHECK(posterior.method() == name);
    CHECK(posterior.info().provenance.simulations == 400);
    CHECK(posterior.info().provenance.sbi_version == std::string(sbi::version()));
    CHECK(posterior.parameter_names() == Names{"theta_1", "theta_2"});
    CHECK(posterior.info().amortized == method.amortized);
    const RowMatrix a = posterior.sample(*problem.observation, 300, 9);
    REQUIRE(a.rows() == 300);
    CHECK(a.allFinite());
    const auto folder = scratch("roundtrip_" + name);
    posterior.save(folder);
    const Posterior loaded = load_posterior(folder);
    CHECK(loaded.kind() == posterior.kind());
    CHECK(loaded.method() == name);
    CHECK(loaded.info().options == posterior.info().options);
    CHECK((loaded.sample(*problem.observation, 300, 9).array() == a.array()).all());
    CHECK_FALSE((loaded.sample(*problem.observation, 300, 10).array() == a.array()).all());
    if (!method.amortized)
      CHECK_THROWS_WITH(loaded.sample((Vector(2) << 0.0, 0.0).finished(), 10, 1), Catch::Contains("for one observation only"));
    fs::remove_all(folder);
  }
}

TEST_CASE("load_posterior refuses damaged, unknown and newer folders with the file named", "[models][posterior]") {
  const InferenceProblem problem = small_problem();
  const MethodRun run = run_method(builtin_methods().at("rejection"), {}, problem, {.simulations = 300, .seed = 4});
  const auto folder = scratch("damaged");
  run.posterior.save(folder);
  const std::string json = read_all(folder / "posterior.json");
  const std::string particles = read_all(folder / "particles.csv");

  CHECK_THROWS_WITH(load_posterior(folder / "missing"), Catch::Contains("not a saved posterior"));
  // A flipped digit in a listed file: its checksum no longer matches.
  std::string changed = particles;
  changed[changed.size() / 2] = changed[changed.size() / 2] == '1' ? '2' : '1';
  write_all(folder / "particles.csv", changed);
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("particles.csv: damaged"));
  // Truncated.
  write_all(folder / "particles.csv", particles.substr(0, particles.size() / 2));
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("particles.csv: damaged or truncated"));
  write_all(folder / "particles.csv", particles);
  CHECK_NOTHROW(load_posterior(folder));
  fs::remove(folder / "particles.csv");
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("particles.csv: missing"));
  write_all(folder / "particles.csv", particles);

  auto document = nlohmann::json::parse(json);
  document["kind"] = "quantum_posterior";
  write_all(folder / "posterior.json", document.dump());
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("unknown posterior kind \"quantum_posterior\""));
  document = nlohmann::json::parse(json);
  document["format_version"] = kPosteriorFormatVersion + 1;
  write_all(folder / "posterior.json", document.dump());
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("is newer than this sbi++ reads"));
  write_all(folder / "posterior.json", json.substr(0, json.size() / 3));
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("posterior.json") && Catch::Contains("invalid JSON"));
  document = nlohmann::json::parse(json);
  document.erase("state");
  write_all(folder / "posterior.json", document.dump());
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("posterior.json: state is missing"));
  fs::remove_all(folder);
}

TEST_CASE("an NPE posterior saved before alternatives existed reads back as trained alone", "[models][posterior][npe]") {
  const InferenceProblem problem = small_problem();
  const MethodRun run = run_method(builtin_methods().at("npe"), quick_options("npe"), problem, {.simulations = 300, .seed = 4});
  // The default alternatives (two MAFs) trained beside the estimator; the summary says which was kept.
  const nlohmann::json diagnostics = run.posterior.diagnostics();
  REQUIRE(diagnostics.contains("estimators"));
  CHECK(diagnostics.at("estimators").size() == 3);
  CHECK(run.posterior.info().options.at("alternatives").size() == 2);
  const auto folder = scratch("npe_without_alternatives");
  run.posterior.save(folder);
  auto document = nlohmann::json::parse(read_all(folder / "posterior.json"));
  REQUIRE(document.at("options").contains("alternatives"));
  document["options"].erase("alternatives");
  write_all(folder / "posterior.json", document.dump());
  CHECK(load_posterior(folder).info().options.at("alternatives") == nlohmann::json::array());
  fs::remove_all(folder);
}

TEST_CASE("a posterior saved by sbi++ 0.1 (format version 1) still loads and samples", "[models][posterior]") {
  // tests/models/data/v1_posterior: `sbi infer` of sbi++ 0.1 (commit f0daccb) on
  // data/specs/gaussian_linear_2d_test.json with a 16-unit generator, and its samples.csv (seed 1).
  const fs::path folder = fs::path(SBI_TEST_DIR) / "models" / "data" / "v1_posterior";
  const Posterior posterior = load_posterior(folder);
  CHECK(posterior.kind() == "implicit_generator");
  CHECK(posterior.method() == "lfvi");
  const CsvTable saved = read_csv(folder / "samples.csv");
  const RowMatrix again = posterior.sample((Vector(2) << 0.6, -0.4).finished(), saved.values.rows(), 1);
  // The network kernels now chosen at run time for the CPU (sbi/autodiff/kernels.hpp) may sum in
  // another order than 0.1's Eigen products: the draws agree to float32 rounding through a 2-layer
  // generator (a few ulps of float32, 1.2e-7 each, relative to the draws' scale of about 1), not bit for bit.
  REQUIRE(again.rows() == saved.values.rows());
  CHECK((again - saved.values).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("infer() trains a table method by name and refuses what it cannot run", "[models][registry]") {
  const InferenceProblem problem = small_problem();
  const auto table = simulate_prior_table(problem.simulator, *problem.prior, {.simulations = 300, .seed = 1}).table;
  const Posterior p = infer("mmd", table, problem.prior, quick_options("mmd"));
  CHECK(p.data_names() == table.metadata.data_names);
  CHECK_THROWS_WITH(infer("smc", table, problem.prior), Catch::Contains("simulates by itself"));
  CHECK_THROWS_WITH(infer("rejection", table, problem.prior), Catch::Contains("needs an observation"));
  CHECK_THROWS_WITH(infer("mmd", table, problem.prior, {{"max_iterations", 0}}), Catch::StartsWith("inference.max_iterations"));
  // A prior over the table's parameters in another order would train each on the other's column.
  const auto swapped = std::make_shared<UniformPrior>(Vector::Constant(2, -5.0), Vector::Constant(2, 5.0), Names{"theta_2", "theta_1"});
  CHECK_THROWS_WITH(infer("mmd", table, swapped, quick_options("mmd")),
                    Catch::Contains("names parameter 1 \"theta_2\", which the table has as parameter 2"));
  // The table records the prior its θ were drawn from: NPE would learn the posterior under that one,
  // so another prior is refused; NLE applies the prior afterwards and may reuse the table.
  REQUIRE_FALSE(table.metadata.prior.is_null());
  const auto other = std::make_shared<UniformPrior>(Vector::Constant(2, -5.0), Vector::Constant(2, 5.0), Names{"theta_1", "theta_2"});
  CHECK_THROWS_WITH(infer("npe", table, other, quick_options("npe")), Catch::Contains("drawn from another prior"));
  CHECK(infer("nle", table, other, quick_options("nle")).parameter_dim() == 2);
}

TEST_CASE("an ensemble of an amortised method trains on all cores, is the same at any thread count, and saves as one posterior", "[models][ensemble]") {
  const InferenceProblem problem = small_problem();
  nlohmann::json options = quick_options("mmd");
  options["ensemble"] = 3;
  const MethodRun one_thread = run_method(builtin_methods().at("mmd"), options, problem, {.simulations = 300, .seed = 5, .threads = 1});
  const MethodRun two_threads = run_method(builtin_methods().at("mmd"), options, problem, {.simulations = 300, .seed = 5, .threads = 2});
  const Posterior& ensemble = one_thread.posterior;
  REQUIRE(ensemble.kind() == "ensemble");
  CHECK(ensemble.method() == "mmd");
  CHECK(ensemble.info().options["ensemble"] == 3);
  CHECK(ensemble.diagnostics()["members"] == 3);
  const RowMatrix a = ensemble.sample(*problem.observation, 400, 3);
  CHECK((two_threads.posterior.sample(*problem.observation, 400, 3).array() == a.array()).all());
  // The members differ (own seeds), and the mixture draws from all of them.
  const auto* kind = ensemble.model_as<models::EnsemblePosterior>();
  REQUIRE(kind != nullptr);
  REQUIRE(kind->members().size() == 3);
  CHECK_FALSE((kind->members()[0].sample(*problem.observation, 50, 1).array() == kind->members()[1].sample(*problem.observation, 50, 1).array()).all());
  const auto folder = scratch("ensemble");
  ensemble.save(folder);
  CHECK(fs::exists(folder / "member_2" / "posterior.json"));
  const Posterior loaded = load_posterior(folder);
  CHECK(loaded.kind() == "ensemble");
  CHECK((loaded.sample(*problem.observation, 400, 3).array() == a.array()).all());
  fs::remove_all(folder / "member_1");
  CHECK_THROWS_WITH(load_posterior(folder), Catch::Contains("member_1"));
  fs::remove_all(folder);
  // Ensembles are for amortised methods.
  CHECK_THROWS_WITH(run_method(builtin_methods().at("rejection"), {{"ensemble", 2}}, problem, {.simulations = 300}),
                    Catch::Contains("ensembles are for amortised methods"));
}

TEST_CASE("with_mcmc_sampling changes how an MCMC kind (alone or in an ensemble) samples, and nothing else", "[models][posterior][mcmc]") {
  const InferenceProblem problem = small_problem();
  const Vector& y = *problem.observation;
  auto shorter = [](McmcOptions o) {
    o.warmup = 10;
    o.threads = 1;
    return o;
  };
  const Posterior nle = run_method(builtin_methods().at("nle"), quick_options("nle"), problem, {.simulations = 400, .seed = 2}).posterior;
  REQUIRE(models::samples_by_mcmc(nle));
  const Posterior quick = models::with_mcmc_sampling(nle, shorter);
  CHECK(models::samples_by_mcmc(nle));
  CHECK(quick.kind() == nle.kind());
  CHECK(quick.info().options["mcmc"]["warmup"] == 10);
  CHECK(nle.info().options["mcmc"]["warmup"] == 40);
  CHECK(quick.info().options["max_epochs"] == nle.info().options["max_epochs"]);
  const RowMatrix theta = nle.sample(y, 50, 3);
  CHECK((quick.log_prob(theta, y).array() == nle.log_prob(theta, y).array()).all());
  // Its draws are those of the adjusted chains: the saved warm-up (40) gives others.
  const auto* mcmc = nle.model_as<models::McmcPosterior>();
  REQUIRE(mcmc != nullptr);
  const McmcOptions expected = shorter(mcmc->mcmc_options());
  CHECK((quick.sample(y, 200, 7).array() == mcmc->sample_with_report(y, 200, 7, expected).samples.array()).all());
  CHECK_FALSE((quick.sample(y, 200, 7).array() == nle.sample(y, 200, 7).array()).all());
  // Saved (as for another MPI rank), it keeps the adjusted settings.
  const auto folder = scratch("resampled");
  quick.save(folder);
  CHECK((load_posterior(folder).sample(y, 200, 7).array() == quick.sample(y, 200, 7).array()).all());
  fs::remove_all(folder);
  // Ensembles of MCMC kinds have their members adjusted; other kinds come back as they are.
  nlohmann::json options = quick_options("nre");
  options["ensemble"] = 2;
  const Posterior ensemble = run_method(builtin_methods().at("nre"), options, problem, {.simulations = 400, .seed = 4}).posterior;
  REQUIRE(models::samples_by_mcmc(ensemble));
  const Posterior quick_ensemble = models::with_mcmc_sampling(ensemble, shorter);
  CHECK(quick_ensemble.kind() == "ensemble");
  CHECK_FALSE((quick_ensemble.sample(y, 200, 7).array() == ensemble.sample(y, 200, 7).array()).all());
  const Posterior npe = run_method(builtin_methods().at("npe"), quick_options("npe"), problem, {.simulations = 400, .seed = 2}).posterior;
  CHECK_FALSE(models::samples_by_mcmc(npe));
  CHECK(&models::with_mcmc_sampling(npe, shorter).model() == &npe.model());
  // Invalid adjusted settings are refused.
  CHECK_THROWS_WITH(models::with_mcmc_sampling(nle, [](McmcOptions o) { o.chains = 0; return o; }), Catch::Contains("adjusted MCMC settings"));
}

TEST_CASE("a posterior as bytes (for another rank) loads back as the same posterior and saves the same bytes again", "[models][ensemble]") {
  // What an MPI worker sends rank 0 for an ensemble member (models/ensemble_training.hpp): rank 0 must
  // save and sample exactly what the member would have given alone.
  const InferenceProblem problem = small_problem();
  for (const std::string name : {"npe", "nle", "mmd"}) {
    INFO(name);
    nlohmann::json options = quick_options(name);
    options["ensemble"] = 2;
    const MethodRun run = run_method(builtin_methods().at(name), options, problem, {.simulations = 300, .seed = 5, .threads = 1});
    const std::string bytes = models::posterior_to_bytes(run.posterior);
    const Posterior back = models::posterior_from_bytes(bytes);
    CHECK(back.kind() == "ensemble");
    CHECK(models::posterior_to_bytes(back) == bytes);
    CHECK((back.sample(*problem.observation, 200, 4).array() == run.posterior.sample(*problem.observation, 200, 4).array()).all());
  }
  const std::string bytes = models::posterior_to_bytes(run_method(builtin_methods().at("mmd"), quick_options("mmd"), problem,
                                                                  {.simulations = 200, .seed = 5, .threads = 1}).posterior);
  CHECK_THROWS_AS(models::posterior_from_bytes(bytes.substr(0, bytes.size() / 2)), FileError);
  CHECK_THROWS_AS(models::posterior_from_bytes(std::string(12, 'x')), FileError);
}

TEST_CASE("a method trained on a given table without a simulator records the table's simulator and options", "[models][posterior]") {
  InferenceProblem problem = small_problem();
  const ReferenceTable table = simulate_prior_table(problem.simulator, *problem.prior, {.simulations = 200, .seed = 3}).table;
  problem.simulator = {};  // as sbipp.infer(method, table, prior): the table alone says where it came from
  const MethodRun run = run_method(builtin_methods().at("mmd"), quick_options("mmd"), problem, {.simulations = 200, .seed = 3, .table = &table});
  const Provenance& provenance = run.posterior.info().provenance;
  CHECK(provenance.simulator == "gaussian_linear");
  // The name alone would mean gaussian_linear's default dimension (10), not the table's 2.
  CHECK(provenance.simulator_options == nlohmann::json{{"dim", 2}});
  CHECK(provenance.table == "given");
}

TEST_CASE("NPE, NLE and NRE recover the exact posterior of a conjugate Gaussian model", "[models][npe][nle][nre]") {
  // gaussian_linear in 2-D: prior N(0, 0.1 I), y ~ N(θ, 0.1 I), so p(θ | y) = N(y/2, 0.05 I) (sd 0.224).
  const InferenceProblem problem = small_problem();
  const Vector exact_mean = *problem.observation / 2;
  const double exact_sd = std::sqrt(0.05);
  const nlohmann::json mcmc = {{"chains", 10}, {"warmup", 100}};
  const std::vector<std::pair<std::string, nlohmann::json>> runs = {
      {"npe", {{"density_estimator", {{"type", "maf"}, {"transforms", 3}, {"hidden", {32, 32}}}}}},
      {"nle", {{"density_estimator", {{"type", "maf"}, {"transforms", 3}, {"hidden", {32, 32}}}}, {"mcmc", mcmc}}},
      {"nre", {{"classifier", {{"hidden", {64, 64}}, {"batch_size", 128}}}, {"mcmc", mcmc}}},
      {"snle", {{"rounds", 2}, {"density_estimator", {{"type", "maf"}, {"transforms", 3}, {"hidden", {32, 32}}}}, {"mcmc", mcmc}}}};
  for (const auto& [name, options] : runs) {
    INFO("method " << name);
    const MethodRun run = run_method(builtin_methods().at(name), options, problem, {.simulations = 3000, .seed = 5});
    const RowMatrix draws = run.posterior.sample(*problem.observation, 4000, 3);
    REQUIRE(draws.allFinite());
    // A useful estimate from 3000 simulations has its mean within a third of a posterior sd and its
    // sd within 30 % (the prior's sd, 0.316, is 41 % wider: an estimator that learnt nothing fails);
    // the Monte Carlo error of 4000 draws (sd/63 for independent draws, a few times that for MCMC)
    // is small beside both.
    for (Eigen::Index j = 0; j < 2; ++j) {
      const double mean = draws.col(j).mean();
      const double sd = std::sqrt((draws.col(j).array() - mean).square().mean());
      INFO("parameter " << j << ": mean " << mean << " (exact " << exact_mean[j] << "), sd " << sd << " (exact " << exact_sd << ")");
      CHECK(std::abs(mean - exact_mean[j]) < exact_sd / 3);
      CHECK(sd > exact_sd / 1.3);
      CHECK(sd < exact_sd * 1.3);
    }
    // log_prob: normalised for NPE, up to a constant for the MCMC kinds; either way the exact
    // posterior's mode scores above a point two posterior sds away.
    CHECK(run.posterior.info().has_log_prob);
    CHECK(run.posterior.info().log_prob_normalized == (name == "npe"));
    if (name == "snle") {
      // Two rounds, 1500 simulations each, the second from the first round's posterior.
      CHECK(run.posterior.info().provenance.simulations == 3000);
      CHECK(run.posterior.info().options["sequential_record"]["simulations_per_round"] == nlohmann::json({1500, 1500}));
      CHECK_FALSE(run.posterior.info().amortized);
    }
    RowMatrix points(2, 2);
    points.row(0) = exact_mean.transpose();
    points.row(1) = exact_mean.transpose() + RowMatrix::Constant(1, 2, 2 * exact_sd);
    const Vector lp = run.posterior.log_prob(points, *problem.observation);
    CHECK(lp[0] > lp[1]);
    if (name != "npe") {
      const auto report = run.posterior.diagnostics();
      REQUIRE(report.contains("mcmc"));
      CHECK(report["mcmc"].contains("diagnostics"));
    }
  }
}

TEST_CASE("every sequential method resumes an interrupted run after its last finished round, with the uninterrupted run's draws",
          "[models][resume]") {
  const InferenceProblem problem = small_problem();
  // SLFVI three times: retrained each round (its default), continuing from the last round's networks
  // (which a resumed run reads back from its kept round), and with the flow generator (whose kept
  // round is its flow: the next round's region comes from it).
  const std::vector<std::pair<std::string, nlohmann::json>> runs = {
      {"snpe", {}}, {"snle", {}}, {"snre", {}}, {"slfvi", {}}, {"slfvi", {{"retrain_from_scratch", false}}}, {"slfvi", {{"generator", "flow"}}}};
  for (const auto& [name, extra] : runs) {
    INFO("method " << name << " " << extra.dump());
    const fs::path dir = scratch("resume_" + name + (extra.empty() ? "" : extra.contains("generator") ? "_flow" : "_continuing"));
    nlohmann::json options = extra.contains("generator") ? quick_flow_slfvi_options() : quick_options(name);
    if (extra.is_object()) options.update(extra);
    options["rounds"] = 3;
    const Method& method = builtin_methods().at(name);
    const MethodRun whole = run_method(method, options, problem, {.simulations = 600, .seed = 4, .threads = 2, .checkpoint = dir / "whole"});
    REQUIRE(static_cast<bool>(whole.posterior));

    // Stopped when round 3's proposal is being drawn: rounds 1 and 2 are kept, round 3 is not.
    testing::StopAtProposal stop_at_round_3(3, 3);
    const MethodRun cut =
        run_method(method, options, problem, {.simulations = 600, .seed = 4, .threads = 2, .checkpoint = dir / "split"}, stop_at_round_3.callbacks);
    CHECK(cut.interrupted);
    CHECK(fs::exists(dir / "split" / "round_1.sbt"));
    CHECK_FALSE(fs::exists(dir / "split" / "round_2.sbt"));

    const MethodRun resumed = run_method(method, options, problem, {.simulations = 600, .seed = 4, .threads = 2, .checkpoint = dir / "split"});
    REQUIRE(static_cast<bool>(resumed.posterior));
    CHECK(resumed.posterior.info().options["sequential_record"]["resumed_rounds"] == 2);
    const RowMatrix a = whole.posterior.sample(*problem.observation, 300, 7), b = resumed.posterior.sample(*problem.observation, 300, 7);
    REQUIRE(a.rows() == b.rows());
    CHECK((a.array() == b.array()).all());
    fs::remove_all(dir);
  }
}
