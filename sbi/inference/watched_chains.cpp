#include "sbi/inference/watched_chains.hpp"

#include <utility>

namespace sbi {

McmcOptions watched_by(McmcOptions options, const TrainingCallbacks& callbacks, std::string stage) {
  options.stop = callbacks.stop;
  options.on_progress = [&callbacks, stage = std::move(stage)](std::size_t done, std::size_t total) {
    callbacks.report({stage, done, total, "iteration", ""});
  };
  return options;
}

}  // namespace sbi
