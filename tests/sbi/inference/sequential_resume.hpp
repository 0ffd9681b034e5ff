#pragma once
// Shared by the resume tests of the sequential methods: cut a run where round `round`'s proposal
// begins (its earlier rounds are then kept, it is not), and compare a resumed run's record with the
// uninterrupted one's.
#include "sbi/inference/sequential.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <string>

namespace sbi::testing {

struct StopAtProposal {
  std::atomic<bool> stop{false};
  // The most chain iterations the cut round's MCMC proposal reported (SNLE, SNRE): 0 when the
  // chains stopped at once.
  std::size_t proposal_chain_iterations = 0;
  TrainingCallbacks callbacks;
  StopAtProposal(int round, int rounds) {
    const std::string stage = "round " + std::to_string(round) + "/" + std::to_string(rounds) + ": propose";
    callbacks.stop = &stop;
    callbacks.on_progress = [this, stage](const TrainingProgress& p) {
      if (p.stage.rfind(stage, 0) != 0) return;
      stop = true;
      if (p.stage == stage + " (MCMC)") proposal_chain_iterations = std::max(proposal_chain_iterations, p.done);
    };
  }
  StopAtProposal(const StopAtProposal&) = delete;  // the callback points at this object
  StopAtProposal& operator=(const StopAtProposal&) = delete;
};

// The resumed run read `kept` rounds back and then simulated exactly what the uninterrupted run did.
inline void check_resumed_as_whole(const SequentialRecord& resumed, const SequentialRecord& whole, int kept) {
  CHECK(resumed.resumed_rounds == kept);
  CHECK_FALSE(resumed.interrupted);
  CHECK(resumed.simulations == whole.simulations);
  CHECK(resumed.proposals == whole.proposals);
  CHECK((resumed.theta.array() == whole.theta.array()).all());
  CHECK(resumed.index_of_row == whole.index_of_row);
}

}  // namespace sbi::testing
