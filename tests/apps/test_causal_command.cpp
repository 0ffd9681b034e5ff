// `sbi causal`: one pair from the command line, and the benchmark over a folder with a malformed
// pair file (named in the warning, skipped, counted in the summary).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::filesystem::path synthetic(const std::string& file) {
  return std::filesystem::path(SBI_SOURCE_DIR) / "data" / "causal_synthetic" / file;
}

}  // namespace

TEST_CASE("sbi causal PAIR.csv prints the direction and score", "[causal][cli]") {
  const auto r = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method igci");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("direction") && Catch::Contains("score"));
  const auto c = sbi::testing::run_cli("causal '" + synthetic("pair0002.csv").string() +
                                       "' --method cgnn --runs 3 --train-epochs 20 --eval-epochs 3 --max-samples 100 --json");
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  const auto j = nlohmann::json::parse(c.out);
  CHECK(j["run_scores"].size() == 3);
  CHECK(j["samples_used"] == 100);
  const auto bad = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method nosuch");
  CHECK(bad.exit_code == 2);
}

TEST_CASE("sbi causal benchmark skips a malformed pair file and names it", "[causal][cli]") {
  const auto dir = sbi::testing::cli_scratch_dir("causal_bench");
  const auto out = dir / "out";
  for (const char* f : {"pair0001.csv", "pair0002.csv", "pair0003.csv"}) std::filesystem::copy_file(synthetic(f), dir / f);
  {
    std::ofstream bad(dir / "pair0004.csv");
    bad << "x,y\n";
    for (int i = 0; i < 20; ++i) bad << i << "," << (i == 7 ? "oops" : std::to_string(i * 0.5)) << "\n";
    std::ofstream meta(dir / "meta.csv");
    meta << "pair_id,direction,weight\n1,1,1\n2,-1,1\n3,1,0.5\n4,1,1\n";
  }
  const auto r = sbi::testing::run_cli("causal benchmark '" + dir.string() + "' --method igci,reci --quiet --threads 2 -o '" +
                                       out.string() + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("pair0004.csv") && Catch::Contains("pair0004.csv:9:") && Catch::Contains("oops"));
  CHECK_THAT(r.out, Catch::Contains("Skipped pairs: 1"));
  const auto summary = nlohmann::json::parse(sbi::testing::read_text(out / "summary.json"));
  CHECK(summary["skipped_count"] == 1);
  CHECK(summary["summaries"].size() == 2);
  CHECK(summary["summaries"][0]["pairs"] == 3);
  const std::string table = sbi::testing::read_text(out / "pairs.csv");
  CHECK(std::count(table.begin(), table.end(), '\n') == 1 + 2 * 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi causal meta-train writes a meta-model that --method meta-cgnn --model uses", "[causal][cli][meta-cgnn]") {
  const auto dir = sbi::testing::cli_scratch_dir("causal_meta");
  const auto model = dir / "model";
  const auto pairs = dir / "pairs";
  // A tiny meta-model (a few steps of narrow networks): what is checked is the plumbing, not accuracy.
  {
    std::ofstream options(dir / "options.json");
    options << R"({"steps": 5, "tasks_per_step": 2, "sizes": [40], "training_rows": 40, "encoder_rows": 40,
                  "encoder": {"kind": "kernel-mean", "width": 8, "embedding": 3}, "generator": {"width": 8}})";
  }
  const auto train = sbi::testing::run_cli("causal meta-train -o '" + model.string() + "' --options '" + (dir / "options.json").string() +
                                           "' --threads 2 --quiet");
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  CHECK(std::filesystem::exists(model / "meta_cgnn.json"));
  CHECK_THAT(train.out, Catch::Contains("5 in"));

  const auto one = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method meta-cgnn --model '" +
                                         model.string() + "' --eval-draws 3 --json");
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  const auto j = nlohmann::json::parse(one.out);
  CHECK(j["method"] == "meta-cgnn");
  CHECK(j["samples_used"] == 300);
  CHECK(j["models"] == 1);

  // generate writes a benchmark folder that benchmark reads, summarised by family.
  const auto gen = sbi::testing::run_cli("causal generate -o '" + pairs.string() + "' --families additive,discretised --sizes 50 --pairs-per-cell 2");
  INFO(gen.err);
  REQUIRE(gen.exit_code == 0);
  const auto bench = sbi::testing::run_cli("causal benchmark '" + pairs.string() + "' --method meta-cgnn,igci --model '" + model.string() +
                                           "' --eval-draws 2 --group-by family --quiet --threads 2 -o '" + (dir / "out").string() + "'");
  INFO(bench.err);
  REQUIRE(bench.exit_code == 0);
  CHECK_THAT(bench.out, Catch::Contains("family=additive") && Catch::Contains("family=discretised"));
  const std::string table = sbi::testing::read_text(dir / "out" / "pairs.csv");
  CHECK(std::count(table.begin(), table.end(), '\n') == 1 + 2 * 4);

  // The meta-model's training continued (--init) on that folder's pairs as labelled data sets (--pairs).
  const auto tuned = sbi::testing::run_cli("causal meta-train -o '" + (dir / "tuned").string() + "' --init '" + model.string() +
                                           "' --pairs '" + pairs.string() + "' --steps 3 --learning-rate 0.0003 --quiet");
  INFO(tuned.err);
  REQUIRE(tuned.exit_code == 0);
  CHECK_THAT(tuned.out, Catch::Contains("started     from") && Catch::Contains("labelled    4 pairs, 50 %"));
  const auto tuned_json = nlohmann::json::parse(sbi::testing::read_text(dir / "tuned" / "meta_cgnn.json"));
  CHECK(tuned_json["training"]["start_steps"] == 5);
  CHECK(tuned_json["training"]["labelled_pairs"].size() == 4);
  CHECK(tuned_json["options"]["steps"] == 3);
  CHECK(tuned_json["options"]["learning_rate"] == 0.0003);
  CHECK(tuned_json["options"]["encoder"]["width"] == 8);  // the --init model's options are the base
  // Benchmarking a model on the pairs it was trained on is flagged, on stderr and in the summaries.
  const auto seen = sbi::testing::run_cli("causal benchmark '" + pairs.string() + "' --method meta-cgnn --model '" + (dir / "tuned").string() +
                                          "' --eval-draws 2 --quiet -o '" + (dir / "seen").string() + "'");
  REQUIRE(seen.exit_code == 0);
  CHECK_THAT(seen.err, Catch::Contains("4 of the 4 pairs were in the meta-model's training data"));
  CHECK_THAT(seen.out, Catch::Contains("TRAINING DATA"));
  CHECK(nlohmann::json::parse(sbi::testing::read_text(dir / "seen" / "summary.json"))["meta_model_trained_on"].size() == 4);
  CHECK_THAT(bench.err, !Catch::Contains("training data"));  // the model trained on generated data only
  // ... and so is one of them with its columns the other way round (the effect listed first).
  {
    std::filesystem::create_directories(dir / "swapped");
    std::ifstream original(pairs / "pair0001.csv");
    std::ofstream swapped(dir / "swapped" / "pair0001.csv");
    for (std::string row; std::getline(original, row);) {
      const auto comma = row.find(',');
      swapped << row.substr(comma + 1) << ',' << row.substr(0, comma) << '\n';
    }
    std::ofstream(dir / "swapped" / "meta.csv") << "pair_id,direction,weight\n1,-1,1\n";
  }
  const auto swapped = sbi::testing::run_cli("causal benchmark '" + (dir / "swapped").string() + "' --method meta-cgnn --model '" +
                                             (dir / "tuned").string() + "' --eval-draws 2 --quiet -o '" + (dir / "swapped_out").string() + "'");
  REQUIRE(swapped.exit_code == 0);
  CHECK_THAT(swapped.err, Catch::Contains("1 of the 1 pairs were in the meta-model's training data (pair0001.csv)"));
  // --model given twice: the two models decide together; either one's training data is flagged.
  const auto ensemble = sbi::testing::run_cli("causal benchmark '" + pairs.string() + "' --method meta-cgnn --model '" + model.string() +
                                              "' --model '" + (dir / "tuned").string() + "' --eval-draws 2 --quiet -o '" +
                                              (dir / "ensemble").string() + "'");
  INFO(ensemble.err);
  REQUIRE(ensemble.exit_code == 0);
  CHECK_THAT(ensemble.err, Catch::Contains("4 of the 4 pairs were in the meta-model's training data"));
  const auto ensemble_json = nlohmann::json::parse(sbi::testing::read_text(dir / "ensemble" / "summary.json"));
  CHECK(ensemble_json["meta_models"].size() == 2);
  CHECK(ensemble_json["meta_models"][1]["training"]["start_steps"] == 5);
  const auto ensemble_one = sbi::testing::run_cli("causal '" + synthetic("pair0001.csv").string() + "' --method meta-cgnn --model '" +
                                                  model.string() + "' --model '" + (dir / "tuned").string() + "' --eval-draws 3");
  REQUIRE(ensemble_one.exit_code == 0);
  CHECK_THAT(ensemble_one.out, Catch::Contains("models     2, decided together"));
  // A start of another shape, and an unreadable labelled pair, are refused by name; nothing is written.
  std::ofstream(dir / "wider.json") << R"({"generator": {"width": 16}})";
  const auto wider = sbi::testing::run_cli("causal meta-train -o '" + (dir / "wider").string() + "' --init '" + model.string() +
                                           "' --options '" + (dir / "wider.json").string() + "' --steps 1 --quiet");
  CHECK(wider.exit_code == 1);
  CHECK_THAT(wider.err, Catch::Contains("generator"));
  CHECK_FALSE(std::filesystem::exists(dir / "wider"));
  std::ofstream(pairs / "pair0002.csv") << "x,y\n1,2\n3,oops\n";
  const auto damaged = sbi::testing::run_cli("causal meta-train -o '" + (dir / "damaged").string() + "' --pairs '" + pairs.string() +
                                             "' --steps 1 --quiet");
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.err, Catch::Contains("pair0002.csv"));
  CHECK_FALSE(std::filesystem::exists(dir / "damaged"));

  // --cause-warp 1 marks every cause law as warped; a value that is not a probability is refused.
  const auto warped = sbi::testing::run_cli("causal generate -o '" + (dir / "warped").string() +
                                            "' --families additive --sizes 50 --pairs-per-cell 2 --cause-warp 1");
  REQUIRE(warped.exit_code == 0);
  CHECK_THAT(sbi::testing::read_text(dir / "warped" / "meta.csv"), Catch::Contains(",warped-"));
  const auto bad = sbi::testing::run_cli("causal generate -o '" + (dir / "bad").string() + "' --cause-warp 1.5");
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.err, Catch::Contains("cause_warp"));
  CHECK_FALSE(std::filesystem::exists(dir / "bad"));
  // The same for measurement error on the cause and confounding.
  const auto noisy = sbi::testing::run_cli("causal generate -o '" + (dir / "noisy").string() +
                                           "' --families additive --sizes 50 --pairs-per-cell 2 --cause-noise 1 --confounding 1");
  REQUIRE(noisy.exit_code == 0);
  CHECK_THAT(sbi::testing::read_text(dir / "noisy" / "meta.csv"), Catch::Contains(",noisy-") && Catch::Contains("+confounded,"));
  const auto bad_confounding = sbi::testing::run_cli("causal generate -o '" + (dir / "bad").string() + "' --confounding 2");
  CHECK(bad_confounding.exit_code != 0);
  CHECK_THAT(bad_confounding.err, Catch::Contains("confounding"));
  CHECK_FALSE(std::filesystem::exists(dir / "bad"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("sbi causal meta-cgnn and meta-train name the bad model folder or option", "[causal][cli][meta-cgnn]") {
  const auto dir = sbi::testing::cli_scratch_dir("causal_meta_bad");
  std::string pair = synthetic("pair0001.csv").string();
  pair.insert(pair.begin(), '\'');
  pair.push_back('\'');
  // A folder that is not a meta-model.
  const auto missing = sbi::testing::run_cli("causal " + pair + " --method meta-cgnn --model '" + (dir / "nothing_here").string() + "'");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("nothing_here"));
  std::filesystem::create_directories(dir / "empty_model");
  const auto empty = sbi::testing::run_cli("causal " + pair + " --method meta-cgnn --model '" + (dir / "empty_model").string() + "'");
  CHECK(empty.exit_code == 1);
  CHECK_THAT(empty.err, Catch::Contains("empty_model") && Catch::Contains("meta_cgnn.json"));
  // A damaged description.
  std::filesystem::create_directories(dir / "broken_model");
  std::ofstream(dir / "broken_model" / "meta_cgnn.json") << R"({"format": "sbi-meta-cgnn", "format_version": 1, "options": {"stepz": 3}})";
  const auto broken = sbi::testing::run_cli("causal " + pair + " --method meta-cgnn --model '" + (dir / "broken_model").string() + "'");
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.err, Catch::Contains("broken_model") && Catch::Contains("stepz"));
  // Bad options for meta-train — an unknown key in the file (named with its path), a bad encoder, a missing
  // start model, a folder without meta.csv, a fraction out of range, no output — are refused; nothing is written.
  std::ofstream(dir / "bad.json") << R"({"encoder": {"kind": "set", "widht": 3}})";
  const std::string to_m = "causal meta-train -o '" + (dir / "m").string() + "' ";
  struct Refusal {
    std::string args;
    int exit_code;
    std::vector<std::string> said;  // each must appear in stderr
  };
  const std::vector<Refusal> refusals = {
      {to_m + "--options '" + (dir / "bad.json").string() + "'", 1, {"bad.json", "widht"}},
      {to_m + "--encoder deep", 2, {"deep"}},
      {to_m + "--init '" + (dir / "nothing_here").string() + "'", 1, {"nothing_here"}},
      {to_m + "--pairs '" + (dir / "empty_model").string() + "'", 1, {"empty_model", "meta.csv"}},
      {to_m + "--labelled-fraction 2", 2, {"labelled_fraction"}},
      {"causal meta-train --steps 1", 2, {}},
  };
  for (const auto& refusal : refusals) {
    const auto run = sbi::testing::run_cli(refusal.args);
    INFO(refusal.args);
    CHECK(run.exit_code == refusal.exit_code);
    for (const auto& text : refusal.said) CHECK_THAT(run.err, Catch::Contains(text));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "m"));
  // Bad decision options.
  const auto bad_adapt = sbi::testing::run_cli("causal " + pair + " --method meta-cgnn --adapt everything");
  CHECK(bad_adapt.exit_code == 2);
  CHECK_THAT(bad_adapt.err, Catch::Contains("everything"));
  std::filesystem::remove_all(dir);
}
