#pragma once
// Turns a spec's "simulator" and "prior" sections into a Simulator and its prior.
#include "sbi/spec/spec.hpp"
#include "sbi/simulation/simulator.hpp"

namespace sbi::simulators {

struct SpecModel {
  Simulator simulator;
  PriorPtr prior;
};

// Built-in simulators use the spec's prior or, when it has none, the task's own. An external
// simulator needs a prior in the spec (its parameter names come from there). Checks that the
// observation and the true parameters have the simulator's dimensions.
SpecModel build_spec_model(const Spec& spec);

}  // namespace sbi::simulators
