// McmcOptions: defaults, JSON in and out, and errors that name the JSON path.
#include "sbi/mcmc/mcmc.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace sbi;

TEST_CASE("MCMC options: defaults are valid and survive JSON", "[mcmc][options]") {
  const McmcOptions defaults;
  std::string why;
  CHECK(defaults.is_valid(&why));
  CHECK(why.empty());
  CHECK(defaults.chains_per_call(defaults.chains) == (defaults.chains + 1) / 2);

  const McmcOptions from_empty = McmcOptions::from_json(nlohmann::json::object());
  CHECK(from_empty.to_json() == defaults.to_json());

  McmcOptions changed;
  changed.sampler = McmcOptions::Sampler::hmc;
  changed.chains = 8;
  changed.warmup = 50;
  changed.thin = 3;
  changed.init = McmcOptions::Init::prior;
  changed.slice_directions = McmcOptions::SliceDirections::random;
  changed.jumps_per_iteration = 2.5;
  changed.chain_blocks = 3;
  changed.exploration_chains = 30;
  changed.threads = 1;
  const McmcOptions back = McmcOptions::from_json(nlohmann::json::parse(changed.to_json().dump()));
  CHECK(back.to_json() == changed.to_json());
  CHECK(back.sampler == McmcOptions::Sampler::hmc);
  CHECK(back.slice_directions == McmcOptions::SliceDirections::random);
  CHECK(back.chains_per_call(8) == 3);
  CHECK(back.resolved_exploration_chains() == 30);
}

TEST_CASE("MCMC options: bad values are InputErrors naming the JSON path", "[mcmc][options]") {
  using nlohmann::json;
  auto error_of = [](const json& j, const std::string& path = "mcmc") {
    try {
      McmcOptions::from_json(j, path);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of({{"chains", 0}}), Catch::StartsWith("mcmc.chains:"));
  CHECK_THAT(error_of({{"chains", "many"}}), Catch::StartsWith("mcmc.chains:"));
  CHECK_THAT(error_of({{"thin", 0}}), Catch::StartsWith("mcmc.thin:"));
  CHECK_THAT(error_of({{"sampler", "nuts"}}), Catch::StartsWith("mcmc.sampler:") && Catch::Contains("slice"));
  CHECK_THAT(error_of({{"slice_directions", "diagonal"}}), Catch::StartsWith("mcmc.slice_directions:"));
  CHECK_THAT(error_of({{"hmc_target_acceptance", 1.5}}), Catch::StartsWith("mcmc.hmc_target_acceptance:"));
  CHECK_THAT(error_of({{"jump_scale", -1}}), Catch::StartsWith("mcmc.jump_scale:"));
  CHECK_THAT(error_of({{"jumps_per_iteration", -0.5}}), Catch::StartsWith("mcmc.jumps_per_iteration:"));
  CHECK_THAT(error_of({{"chainz", 3}}), Catch::StartsWith("mcmc.chainz:") && Catch::Contains("unknown key"));
  // A constraint between keys is reported at the key to change.
  CHECK_THAT(error_of({{"chains", 50}, {"init_candidates", 10}}), Catch::StartsWith("mcmc.init_candidates:"));
  CHECK_THAT(error_of({{"warmup", -1}}, "inference.mcmc"), Catch::StartsWith("inference.mcmc.warmup:"));
  CHECK_THAT(error_of(json::array()), Catch::Contains("mcmc"));

  McmcOptions o;
  o.hmc_integration_time = 0;
  std::string why;
  CHECK_FALSE(o.is_valid(&why));
  CHECK_THAT(why, Catch::StartsWith("hmc_integration_time:"));
}
