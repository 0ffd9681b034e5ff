#pragma once
// A spec as the Python object holds it: the parsed document and the inference problem it describes
// (simulator, prior, observation, failure policy), built once as `sbi infer` builds them.
#include "sbi/spec/spec.hpp"
#include "sbi/workflows/run.hpp"
#include "simulators/from_spec.hpp"

#include <string>

namespace sbipp {

struct SpecHandle {
  // `observation_file`: a CSV (header + one row) that replaces the spec's observation, or "".
  SpecHandle(sbi::Spec parsed, const std::string& observation_file)
      : spec(std::move(parsed)), problem(sbi::simulators::problem_from_spec(spec, observation_file)) {}

  sbi::Spec spec;
  sbi::InferenceProblem problem;
};

}  // namespace sbipp
