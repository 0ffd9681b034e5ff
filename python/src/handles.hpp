#pragma once
// How library values are held by their Python objects.
//
// Priors are shared and immutable (sbi::PriorPtr = shared_ptr<const Prior>); pybind11 needs a
// holder of a non-const type, so the Python object holds the same pointer without the const. Every
// method bound on Prior is const, so nothing can change a prior through it.
#include "sbi/priors/prior.hpp"

#include <memory>

namespace sbipp {

using PriorHandle = std::shared_ptr<sbi::Prior>;

inline PriorHandle prior_handle(sbi::PriorPtr prior) { return std::const_pointer_cast<sbi::Prior>(std::move(prior)); }

}  // namespace sbipp
