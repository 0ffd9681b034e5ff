#pragma once
// Argument checks of the autodiff operations (internal to sbi/autodiff/*.cpp). They run on every
// operation of every training step and MCMC evaluation, so the message is built only when a check
// fails: `what` is a string literal or a callable returning the text. (Building it eagerly cost two
// heap allocations per operation: `sbi sample` of 10,000 draws from an NLE posterior on slcp took
// 2.05 s with them and 1.54 s without, one thread, idle; bench/lfvi_flow/RESULTS.md.)
#include <Eigen/Core>

#include <stdexcept>
#include <string>
#include <type_traits>

namespace sbi::ad::detail {

[[noreturn]] inline void fail(const char* operation, const std::string& what) {
  throw std::invalid_argument(std::string("sbi::ad::") + operation + ": " + what);
}

template <class What>
inline void require(bool condition, const char* operation, What&& what) {
  if (condition) [[likely]]
    return;
  if constexpr (std::is_invocable_v<What>) fail(operation, what());
  else fail(operation, std::string(what));
}

template <class Derived>
std::string shape(const Eigen::EigenBase<Derived>& m) {
  return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
}

}  // namespace sbi::ad::detail
