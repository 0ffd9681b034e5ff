#include "sbi/io/json_reader.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/inference/lfvi_flow.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/inference/nre.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using namespace sbi;

namespace {

std::uint64_t read_seed(const nlohmann::json& document) {
  JsonObjectReader reader(document, "inference");
  return reader.optional_seed("seed", 7);
}

std::string seed_error(const nlohmann::json& document) {
  try {
    read_seed(document);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a seed may be any whole number from 0 to 2^64 - 1, and nothing else", "[io][json]") {
  constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  CHECK(read_seed(nlohmann::json::object()) == 7);
  CHECK(read_seed({{"seed", 0}}) == 0);
  CHECK(read_seed({{"seed", top}}) == top);
  // The top half of the range is where an ensemble member's derived seed lands half the time; a signed
  // reader refused those when the saved member was loaded again.
  CHECK(read_seed({{"seed", std::uint64_t{1} << 63}}) == (std::uint64_t{1} << 63));
  CHECK(read_seed(nlohmann::json::parse(R"({"seed": 1e3})")) == 1000);
  CHECK(seed_error({{"seed", -1}}) == "inference.seed: expected a whole number in [0, 2^64), got -1");
  CHECK_FALSE(seed_error({{"seed", 1.5}}).empty());
  CHECK_FALSE(seed_error(nlohmann::json::parse(R"({"seed": 18446744073709551616.0})")).empty());
  CHECK_FALSE(seed_error({{"seed", "1"}}).empty());
}

TEST_CASE("options round-trip a seed from the top of the 64-bit range", "[io][json]") {
  const std::uint64_t seed = 10051168092367284783ULL;  // an ensemble member's seed that failed to load
  NpeOptions npe;
  npe.seed = seed;
  CHECK(NpeOptions::from_json(npe.to_json()).seed == seed);
  NreOptions nre;
  nre.seed = seed;
  CHECK(NreOptions::from_json(nre.to_json()).seed == seed);
  LfviFlowOptions lfvi;
  lfvi.seed = seed;
  CHECK(LfviFlowOptions::from_json(lfvi.to_json()).seed == seed);
  flows::DensityFitOptions fit;
  fit.seed = seed;
  CHECK(flows::DensityFitOptions::from_json(fit.to_json()).seed == seed);
}

namespace {
// An options struct whose validity check fails with a given message.
struct FailingOptions {
  std::string message;
  bool is_valid(std::string* why) const {
    if (message.empty()) return true;
    *why = message;
    return false;
  }
};
}  // namespace

TEST_CASE("finish refuses unknown keys, then reports a failed check at the key its message names", "[io][json]") {
  const nlohmann::json section = {{"rate", 3}};
  {
    JsonObjectReader reader(section, "inference.refine");
    reader.get("rate");
    CHECK_NOTHROW(reader.finish(FailingOptions{}));
    CHECK_THROWS_WITH(reader.finish(FailingOptions{"rate: must be below 1"}), "inference.refine.rate: must be below 1");
    // A message that names no key is reported at the object itself (it used to throw std::out_of_range).
    CHECK_THROWS_AS(reader.finish(FailingOptions{"the widths do not fit"}), InputError);
    CHECK_THROWS_WITH(reader.finish(FailingOptions{"the widths do not fit"}), "inference.refine: the widths do not fit");
  }
  JsonObjectReader unread(section, "inference");
  CHECK_THROWS_WITH(unread.finish(FailingOptions{"rate: must be below 1"}), Catch::StartsWith("inference.rate: unknown key"));
}
