#include "sbi/diagnostics/calibration_report.hpp"

#include "sbi/io/json_reader.hpp"
#include "sbi/util/gnuplot.hpp"
#include "tests/sbi/diagnostics/linear_gaussian_posterior.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace sbi;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path fresh_folder(const std::string& name) {
  const auto folder = fs::temp_directory_path() / ("sbi_calibration_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(folder);
  return folder;
}

CalibrationResult small_run(double scale) {
  const testing::LinearGaussianModel model;
  CalibrationOptions o;
  o.draws = 200;
  o.posterior_samples = 100;
  o.seed = 3;
  return run_calibration(testing::LinearGaussianPosterior::make(model, {.scale = scale}), model.simulator(), o);
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnvironment() {
    if (old_.empty()) ::unsetenv(name_.c_str());
    else ::setenv(name_.c_str(), old_.c_str(), 1);
  }

 private:
  std::string name_, old_;
};

}  // namespace

TEST_CASE("calibration report: JSON, Markdown and pictures", "[diagnostics][calibration][report]") {
  const auto result = small_run(0.5);
  const auto folder = fresh_folder("report");
  const auto files = write_calibration_report(result, folder, "the test posterior");
  REQUIRE(fs::exists(files.json));
  REQUIRE(fs::exists(files.markdown));
  const auto json = parse_json_text(read_text(files.json), files.json.string());
  CHECK(json["verdict"] == "over-confident");
  CHECK(json["passed"] == false);
  CHECK(json["draws"] == 200);
  CHECK(json["per_draw"]["ranks"].size() == 200);
  CHECK(json["coverage"]["levels"].size() == 19);
  CHECK(json["options"]["draws"] == 200);
  const std::string md = read_text(files.markdown);
  CHECK_THAT(md, Catch::Contains("# Calibration of the test posterior"));
  CHECK_THAT(md, Catch::Contains("**Verdict: over-confident.**"));
  CHECK_THAT(md, Catch::Contains("| SBC theta1 |"));
  CHECK_THAT(md, Catch::Contains("How this was decided"));
  for (const char* data : {"plot/coverage.dat", "plot/coverage.gp", "plot/sbc_ranks.dat", "plot/sbc_ranks.gp", "plot/tarp.dat", "plot/tarp.gp"})
    CHECK(fs::exists(folder / data));
  if (gnuplot_available()) {
    CHECK(files.notes.empty());
    CHECK(files.pictures.size() == 3);
    for (const char* png : {"coverage.png", "sbc_ranks.png", "tarp.png"}) {
      CHECK(fs::exists(folder / png));
      CHECK(fs::file_size(folder / png) > 1000);
      CHECK_THAT(md, Catch::Contains(std::string("](") + png + ")"));
    }
  }
  fs::remove_all(folder);
}

TEST_CASE("calibration report without gnuplot: complete JSON and Markdown that say how to get the pictures",
          "[diagnostics][calibration][report]") {
  const auto result = small_run(1.0);
  const auto folder = fresh_folder("no_gnuplot");
  const ScopedEnvironment no_gnuplot("SBI_GNUPLOT", "/nonexistent/gnuplot");
  const auto files = write_calibration_report(result, folder);
  CHECK(files.pictures.empty());
  CHECK(files.notes.size() == 3);
  CHECK_FALSE(fs::exists(folder / "coverage.png"));
  const std::string md = read_text(files.markdown);
  CHECK_THAT(md, Catch::Contains("apt-get install gnuplot-nox"));
  CHECK_THAT(md, Catch::Contains("gnuplot plot/coverage.gp"));
  CHECK_THAT(md, Catch::Contains("**Verdict: calibrated.**"));
  CHECK(fs::exists(folder / "plot" / "coverage.gp"));
  fs::remove_all(folder);
}

TEST_CASE("calibration comparison: a table row per method and one coverage picture", "[diagnostics][calibration][report]") {
  const auto exact = small_run(1.0), narrow = small_run(0.5);
  const std::string table = calibration_comparison_markdown({{"exact", &exact}, {"narrow", &narrow}});
  CHECK_THAT(table, Catch::Contains("| exact | calibrated |"));
  CHECK_THAT(table, Catch::Contains("| narrow | over-confident |"));
  const auto folder = fresh_folder("comparison");
  const std::string note = write_coverage_comparison_plot({{"exact", &exact}, {"narrow", &narrow}}, folder);
  CHECK(fs::exists(folder / "plot" / "coverage_comparison.gp"));
  if (gnuplot_available()) {
    CHECK(note.empty());
    CHECK(fs::exists(folder / "coverage_comparison.png"));
  } else {
    CHECK_THAT(note, Catch::Contains("gnuplot"));
  }
  fs::remove_all(folder);
}

TEST_CASE("calibration report of a run stopped before its first draw says so", "[diagnostics][calibration][report]") {
  const testing::LinearGaussianModel model;
  std::atomic<bool> stop{true};
  TrainingCallbacks callbacks;
  callbacks.stop = &stop;
  CalibrationOptions o;
  o.draws = 50;
  const auto result = run_calibration(testing::LinearGaussianPosterior::make(model, {}), model.simulator(), o, callbacks);
  const auto folder = fresh_folder("empty");
  const auto files = write_calibration_report(result, folder);
  CHECK(files.pictures.empty());
  const std::string md = read_text(files.markdown);
  CHECK_THAT(md, Catch::Contains("**Verdict: inconclusive.**"));
  CHECK_THAT(md, Catch::Contains("Interrupted"));
  CHECK(parse_json_text(read_text(files.json), "calibration.json")["draws"] == 0);
  fs::remove_all(folder);
}
