#include "sbi/io/json_reader.hpp"

#include "sbi/core/error.hpp"

#include <charconv>
#include <cmath>

namespace sbi {

namespace {

// Line and column (1-based) of byte offset `offset` in `text`.
std::string line_and_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Byte offset where the nesting of lists and objects first exceeds `limit`, or npos.
std::size_t too_deep_at(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& where, bool allow_comments) {
  if (const auto at = too_deep_at(text, kMaxJsonNesting); at != std::string::npos)
    throw InputError(where + ":" + line_and_column(text, at) + ": invalid JSON: lists and objects nested more than " +
                     std::to_string(kMaxJsonNesting) + " deep");
  try {
    return nlohmann::json::parse(text, nullptr, true, allow_comments);
  } catch (const nlohmann::json::parse_error& e) {
    std::string reason = e.what();
    if (auto pos = reason.find("syntax error"); pos != std::string::npos) reason = reason.substr(pos);
    throw InputError(where + ":" + line_and_column(text, e.byte > 0 ? e.byte - 1 : 0) + ": invalid JSON: " + reason);
  } catch (const nlohmann::json::out_of_range& e) {
    // The library's message names the number but not where it is ("number overflow parsing '1e400'").
    std::string reason = e.what();
    if (auto pos = reason.find("number overflow"); pos != std::string::npos) reason = reason.substr(pos);
    const auto quote = reason.find('\'');
    std::size_t at = std::string::npos;
    if (quote != std::string::npos) at = text.find(reason.substr(quote + 1, reason.rfind('\'') - quote - 1));
    throw InputError(where + (at == std::string::npos ? "" : ":" + line_and_column(text, at)) + ": invalid JSON: " + reason +
                     " (a number outside the range of a double)");
  }
}

std::string format_number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

std::string json_type_description(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return value.empty() ? "an empty list" : "a list";
    case nlohmann::json::value_t::string: {
      auto s = value.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "\"" + s + "\"";
    }
    case nlohmann::json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return value.dump();
    default: return "an unsupported value";
  }
}

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& expected, const nlohmann::json& got) {
  throw InputError(path + ": expected " + expected + ", got " + json_type_description(got));
}

std::string join_allowed(const std::vector<std::string>& allowed) {
  std::string text;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i) text += i + 1 == allowed.size() ? " or " : ", ";
    text += "\"" + allowed[i] + "\"";
  }
  return text;
}
}  // namespace

double json_number_at(const nlohmann::json& value, const std::string& path) {
  if (!value.is_number()) fail(path, "a number", value);
  const double x = value.get<double>();
  if (!std::isfinite(x)) fail(path, "a finite number", value);
  return x;
}

std::vector<double> json_number_list_at(const nlohmann::json& value, const std::string& path, std::size_t expected_size) {
  if (!value.is_array() || value.empty())
    fail(path, expected_size ? "a list of " + std::to_string(expected_size) + " numbers" : "a non-empty list of numbers", value);
  if (expected_size && value.size() != expected_size)
    throw InputError(path + ": expected a list of " + std::to_string(expected_size) + " numbers, got " +
                     std::to_string(value.size()));
  std::vector<double> out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) out.push_back(json_number_at(value[i], path + "[" + std::to_string(i) + "]"));
  return out;
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) fail(path_.empty() ? "(top level)" : path_, "an object", object_);
}

bool JsonObjectReader::has(const std::string& key) const { return object_.contains(key); }

const nlohmann::json* JsonObjectReader::get(const std::string& key) {
  seen_.insert(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

const nlohmann::json& JsonObjectReader::require(const std::string& key) {
  const auto* value = get(key);
  if (!value) throw InputError(child_path(key) + ": missing (required)");
  return *value;
}

double JsonObjectReader::required_number(const std::string& key) { return json_number_at(require(key), child_path(key)); }

double JsonObjectReader::required_positive_number(const std::string& key) {
  const auto& v = require(key);
  const double x = json_number_at(v, child_path(key));
  if (!(x > 0)) fail(child_path(key), "a positive number", v);
  return x;
}

double JsonObjectReader::optional_number(const std::string& key, double fallback) {
  const auto* v = get(key);
  return v ? json_number_at(*v, child_path(key)) : fallback;
}

double JsonObjectReader::optional_positive_number(const std::string& key, double fallback) {
  const auto* v = get(key);
  if (!v) return fallback;
  const double x = json_number_at(*v, child_path(key));
  if (!(x > 0)) fail(child_path(key), "a positive number", *v);
  return x;
}

double JsonObjectReader::optional_number_in(const std::string& key, double fallback, double low, double high) {
  const auto* v = get(key);
  if (!v) return fallback;
  const double x = json_number_at(*v, child_path(key));
  if (!(x >= low && x <= high)) fail(child_path(key), "a number in [" + format_number(low) + ", " + format_number(high) + "]", *v);
  return x;
}

std::int64_t JsonObjectReader::optional_integer(const std::string& key, std::int64_t fallback, std::int64_t min_value,
                                                std::int64_t max_value) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  return required_integer(key, min_value, max_value);
}

std::int64_t JsonObjectReader::required_integer(const std::string& key, std::int64_t min_value, std::int64_t max_value) {
  const auto& v = require(key);
  std::string expected = "an integer ≥ " + std::to_string(min_value);
  if (max_value != INT64_MAX) expected = "an integer in [" + std::to_string(min_value) + ", " + std::to_string(max_value) + "]";
  if (!v.is_number()) fail(child_path(key), expected, v);
  const double x = v.get<double>();
  if (std::floor(x) != x || x < static_cast<double>(min_value) || x > static_cast<double>(max_value))
    fail(child_path(key), expected, v);
  return v.is_number_integer() ? v.get<std::int64_t>() : static_cast<std::int64_t>(x);
}

std::uint64_t JsonObjectReader::optional_seed(const std::string& key, std::uint64_t fallback) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  const auto& v = require(key);
  const std::string expected = "a whole number in [0, 2^64)";
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    if (v.get<std::int64_t>() < 0) fail(child_path(key), expected, v);
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  if (!v.is_number()) fail(child_path(key), expected, v);
  // A float seed (e.g. 1e3 written by hand) is accepted when it is whole and in range; 2^64 itself is not.
  const double x = v.get<double>();
  if (std::floor(x) != x || x < 0 || x >= 18446744073709551616.0) fail(child_path(key), expected, v);
  return static_cast<std::uint64_t>(x);
}

bool JsonObjectReader::optional_bool(const std::string& key, bool fallback) {
  const auto* v = get(key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(child_path(key), "true or false", *v);
  return v->get<bool>();
}

std::string JsonObjectReader::required_string(const std::string& key, const std::vector<std::string>& allowed) {
  const auto& v = require(key);
  const std::string expected = allowed.empty() ? "a string" : "one of " + join_allowed(allowed);
  if (!v.is_string()) fail(child_path(key), expected, v);
  auto s = v.get<std::string>();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) fail(child_path(key), expected, v);
  return s;
}

std::string JsonObjectReader::optional_string(const std::string& key, const std::string& fallback,
                                              const std::vector<std::string>& allowed) {
  if (!has(key)) {
    seen_.insert(key);
    return fallback;
  }
  return required_string(key, allowed);
}

std::vector<std::string> JsonObjectReader::required_string_list(const std::string& key) {
  const auto& v = require(key);
  if (!v.is_array() || v.empty()) fail(child_path(key), "a non-empty list of strings", v);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) fail(child_path(key) + "[" + std::to_string(i) + "]", "a string", v[i]);
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

std::vector<double> JsonObjectReader::required_number_list(const std::string& key, std::size_t expected_size) {
  return json_number_list_at(require(key), child_path(key), expected_size);
}

std::vector<double> JsonObjectReader::optional_number_list(const std::string& key, std::vector<double> fallback,
                                                           std::size_t expected_size) {
  const auto* v = get(key);
  return v ? json_number_list_at(*v, child_path(key), expected_size) : fallback;
}

std::vector<std::vector<double>> JsonObjectReader::required_number_matrix(const std::string& key, std::size_t rows,
                                                                          std::size_t cols) {
  const auto& v = require(key);
  const std::string expected = "a " + std::to_string(rows) + "×" + std::to_string(cols) + " matrix (list of rows)";
  if (!v.is_array() || v.size() != rows) fail(child_path(key), expected, v);
  std::vector<std::vector<double>> out;
  for (std::size_t r = 0; r < rows; ++r) out.push_back(json_number_list_at(v[r], child_path(key) + "[" + std::to_string(r) + "]", cols));
  return out;
}

void JsonObjectReader::throw_invalid(const std::string& why) const {
  const auto colon = why.find(':');
  if (colon == std::string::npos) throw InputError((path_.empty() ? std::string("options") : path_) + ": " + why);
  throw InputError(child_path(why.substr(0, colon)) + why.substr(colon));
}

void JsonObjectReader::reject_unknown_keys() const {
  for (const auto& [key, value] : object_.items()) {
    if (!seen_.count(key)) throw UnknownKeyError(path_, key, std::vector<std::string>(seen_.begin(), seen_.end()));
  }
}

}  // namespace sbi
