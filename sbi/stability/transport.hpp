#pragma once
// Exact optimal transport between two equal-size point sets: the assignment problem, solved by the
// Hungarian method with potentials and shortest augmenting paths (O(n³); fine for n ≤ a few
// thousand). W1 between the empirical measures of two n-point sets with equal weights is the mean
// cost of the best one-to-one assignment (Birkhoff–von Neumann: an optimal plan is a permutation).
#include "sbi/core/types.hpp"

#include <vector>

namespace sbi::stability {

// For an n × n cost matrix, the column assigned to each row in a minimum-total-cost assignment.
// Throws InputError for a non-square or non-finite matrix.
std::vector<Eigen::Index> solve_assignment(const RowMatrix& cost);

// Exact W1 (Euclidean ground cost) between the empirical measures of `x` and `y` (same shape).
double exact_w1(const RowMatrix& x, const RowMatrix& y);

}  // namespace sbi::stability
