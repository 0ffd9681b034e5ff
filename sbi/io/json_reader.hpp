#pragma once
// Parsing JSON text safely, and reading JSON objects with errors that name the JSON path and what was expected, e.g.
//   prior[2].sigma: expected a positive number, got -1
// A reader records which keys were read; reject_unknown_keys() then turns a misspelt key into an
// error instead of silently ignoring it.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sbi {

// Deepest nesting of lists and objects that parse_json_text accepts: deeper documents are refused
// before parsing (the JSON library recurses on them and can overflow the stack).
inline constexpr int kMaxJsonNesting = 256;

// Parses JSON text. Errors are InputError naming `where` with line and column: syntax errors,
// numbers out of double range (1e400), nesting deeper than kMaxJsonNesting.
// `allow_comments` accepts // and /* */ comments (specs).
nlohmann::json parse_json_text(const std::string& text, const std::string& where, bool allow_comments = false);

// "a string", "an object", "-1", ... for error messages.
std::string json_type_description(const nlohmann::json& value);
// Shortest text that reads back as the same double.
std::string format_number(double value);

class JsonObjectReader {
 public:
  // Throws InputError unless `object` is a JSON object.
  JsonObjectReader(const nlohmann::json& object, std::string path);

  const std::string& path() const { return path_; }
  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool has(const std::string& key) const;
  // Marks a key as known without reading it (for sections read elsewhere).
  const nlohmann::json* get(const std::string& key);

  double required_number(const std::string& key);
  double required_positive_number(const std::string& key);
  double optional_number(const std::string& key, double fallback);
  double optional_positive_number(const std::string& key, double fallback);
  double optional_number_in(const std::string& key, double fallback, double low, double high);
  std::int64_t optional_integer(const std::string& key, std::int64_t fallback, std::int64_t min_value,
                                std::int64_t max_value = INT64_MAX);
  std::int64_t required_integer(const std::string& key, std::int64_t min_value, std::int64_t max_value = INT64_MAX);
  // A random seed: any whole number in [0, 2^64) (derived seeds, such as an ensemble member's, use
  // the whole 64-bit range, so a signed reader would refuse half of them).
  std::uint64_t optional_seed(const std::string& key, std::uint64_t fallback);
  bool optional_bool(const std::string& key, bool fallback);
  std::string required_string(const std::string& key, const std::vector<std::string>& allowed = {});
  std::string optional_string(const std::string& key, const std::string& fallback,
                              const std::vector<std::string>& allowed = {});
  std::vector<std::string> required_string_list(const std::string& key);
  // expected_size 0 = any non-empty length.
  std::vector<double> required_number_list(const std::string& key, std::size_t expected_size = 0);
  std::vector<double> optional_number_list(const std::string& key, std::vector<double> fallback,
                                           std::size_t expected_size = 0);
  std::vector<std::vector<double>> required_number_matrix(const std::string& key, std::size_t rows, std::size_t cols);
  // Throws InputError naming the first key that was never read.
  void reject_unknown_keys() const;
  // The end of reading an options struct: refuses unknown keys, then reports a failed
  // `options.is_valid(&why)` as an InputError at the JSON path of the key its message starts with
  // ("patience: must be at least 1" → "inference.patience: must be at least 1"; a message naming no
  // key is reported at this object's path).
  template <class Options>
  void finish(const Options& options) const {
    reject_unknown_keys();
    if (std::string why; !options.is_valid(&why)) throw_invalid(why);
  }
  [[noreturn]] void throw_invalid(const std::string& why) const;

 private:
  const nlohmann::json& require(const std::string& key);
  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string> seen_;
};

// Checks one JSON value: a number (integers and floats), with the path for the error.
double json_number_at(const nlohmann::json& value, const std::string& path);
std::vector<double> json_number_list_at(const nlohmann::json& value, const std::string& path, std::size_t expected_size = 0);

}  // namespace sbi
