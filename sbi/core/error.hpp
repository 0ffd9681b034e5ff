#pragma once
// Error types. Every error says what went wrong and where (a JSON path, a CSV row, a θ).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sbi {

// Invalid user input: a spec field, a CSV cell, a command-line option.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A key a JSON object's reader does not know, with the keys it does (sorted), so that a reader that
// handles part of an object and passes the rest on can add its own keys to the message.
class UnknownKeyError : public InputError {
 public:
  UnknownKeyError(std::string object_path, std::string key, std::vector<std::string> known)
      : InputError(message(object_path, key, known)), object_path_(std::move(object_path)), key_(std::move(key)), known_(std::move(known)) {}

  const std::string& object_path() const { return object_path_; }

  // The same error with `more` known keys too.
  UnknownKeyError with_known(const std::vector<std::string>& more) const {
    std::vector<std::string> all = known_;
    all.insert(all.end(), more.begin(), more.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return UnknownKeyError(object_path_, key_, std::move(all));
  }

 private:
  static std::string message(const std::string& object_path, const std::string& key, const std::vector<std::string>& known) {
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    return (object_path.empty() ? key : object_path + "." + key) + ": unknown key (known keys here: " + list + ")";
  }
  std::string object_path_, key_;
  std::vector<std::string> known_;
};

// A simulation that could not be completed, with the parameters that caused it.
class SimulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that could not be read or written, or is not in the expected format.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Work stopped on request (Ctrl-C) where nothing partial is worth returning: MCMC chains stopped
// before their samples are complete. The caller says what is kept and how to continue.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sbi
