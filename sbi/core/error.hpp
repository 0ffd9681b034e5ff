#pragma once
// Error types. Every error says what went wrong and where (a JSON path, a CSV row, a θ).
#include <stdexcept>
#include <string>

namespace sbi {

// Invalid user input: a spec field, a CSV cell, a command-line option.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
