#pragma once
// MCMC chains run on behalf of a long call (a sequential round's proposal, a posterior's watched
// sample): they stop when the call's stop flag is set (run_mcmc throws sbi::Interrupted) and report
// their chain iterations as one progress stage.
//
//   McmcResult r = target.sample(n, seed, sbi::watched_by(options, callbacks, "sample (MCMC)"));
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/optim/training_loop.hpp"

#include <string>

namespace sbi {

// `options` with stop = callbacks.stop and progress reported as `stage` in "iteration" units.
// `callbacks` must outlive the run.
McmcOptions watched_by(McmcOptions options, const TrainingCallbacks& callbacks, std::string stage);

}  // namespace sbi
