#include "simulators/from_spec.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>

using namespace sbi;
namespace fs = std::filesystem;

TEST_CASE("a spec's observation file is matched to the simulator's data names", "[spec][simulators]") {
  // Regression: the columns of an observation file were taken by position, whatever its header said.
  const auto dir = fs::temp_directory_path() / ("sbi_from_spec_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // SIR's data are ten counts named by the simulator; the file lists them backwards.
  const auto reference = simulators::build_spec_model(parse_spec(nlohmann::json::parse(R"({"simulator": {"name": "sir"}})"), dir));
  const Names names = reference.simulator.info().data_names;
  REQUIRE(names.size() == 10);
  {
    std::ofstream out(dir / "backwards.csv");
    for (std::size_t k = names.size(); k-- > 0;) out << names[k] << (k ? "," : "\n");
    for (std::size_t k = names.size(); k-- > 0;) out << 100 + k << (k ? "," : "\n");
  }
  const auto spec = parse_spec(nlohmann::json::parse(R"({"simulator": {"name": "sir"}, "observation": {"file": "backwards.csv"}})"), dir);
  const auto model = simulators::build_spec_model(spec);
  REQUIRE(model.observation);
  for (std::size_t k = 0; k < names.size(); ++k) CHECK((*model.observation)[static_cast<Eigen::Index>(k)] == 100.0 + static_cast<double>(k));

  {
    std::ofstream(dir / "wrong.csv") << "a,b,c,d,e,f,g,h,i,j\n1,2,3,4,5,6,7,8,9,10\n";
  }
  const auto wrong = parse_spec(nlohmann::json::parse(R"({"simulator": {"name": "sir"}, "observation": {"file": "wrong.csv"}})"), dir);
  CHECK_THROWS_WITH(simulators::build_spec_model(wrong),
                    Catch::StartsWith("observation.file (") && Catch::Contains("column 1 of the header (\"a\") is not a data name"));

  // An inline list is in the simulator's order already.
  const auto inline_spec =
      parse_spec(nlohmann::json::parse(R"({"simulator": {"name": "two_moons"}, "observation": [0.1, -0.2]})"), dir);
  CHECK(*simulators::build_spec_model(inline_spec).observation == (Vector(2) << 0.1, -0.2).finished());
  fs::remove_all(dir);
}
