#include "sbi/stability/transport.hpp"

#include "sbi/core/error.hpp"

#include <limits>

namespace sbi::stability {

std::vector<Eigen::Index> solve_assignment(const RowMatrix& cost) {
  const Eigen::Index n = cost.rows();
  if (cost.cols() != n) throw InputError("assignment: the cost matrix must be square, got " + std::to_string(n) + " × " + std::to_string(cost.cols()));
  if (!cost.allFinite()) throw InputError("assignment: the cost matrix has non-finite entries");
  const double inf = std::numeric_limits<double>::infinity();
  // Rows are added one at a time; a Dijkstra-like search over columns with reduced costs
  // cost(i, j) − row_potential[i] − column_potential[j] ≥ 0 finds the cheapest augmenting path.
  // Index 0 of the column arrays is a virtual column holding the row being inserted (1-based rows).
  std::vector<double> row_potential(static_cast<std::size_t>(n + 1), 0.0), column_potential(static_cast<std::size_t>(n + 1), 0.0);
  std::vector<Eigen::Index> row_of_column(static_cast<std::size_t>(n + 1), 0), previous_column(static_cast<std::size_t>(n + 1), 0);
  std::vector<double> slack(static_cast<std::size_t>(n + 1));
  std::vector<char> visited(static_cast<std::size_t>(n + 1));
  for (Eigen::Index row = 1; row <= n; ++row) {
    row_of_column[0] = row;
    Eigen::Index column = 0;
    std::fill(slack.begin(), slack.end(), inf);
    std::fill(visited.begin(), visited.end(), 0);
    do {
      visited[static_cast<std::size_t>(column)] = 1;
      const Eigen::Index current_row = row_of_column[static_cast<std::size_t>(column)];
      double delta = inf;
      Eigen::Index next_column = 0;
      for (Eigen::Index j = 1; j <= n; ++j) {
        const auto uj = static_cast<std::size_t>(j);
        if (visited[uj]) continue;
        const double reduced = cost(current_row - 1, j - 1) - row_potential[static_cast<std::size_t>(current_row)] - column_potential[uj];
        if (reduced < slack[uj]) {
          slack[uj] = reduced;
          previous_column[uj] = column;
        }
        if (slack[uj] < delta) {
          delta = slack[uj];
          next_column = j;
        }
      }
      for (Eigen::Index j = 0; j <= n; ++j) {
        const auto uj = static_cast<std::size_t>(j);
        if (visited[uj]) {
          row_potential[static_cast<std::size_t>(row_of_column[uj])] += delta;
          column_potential[uj] -= delta;
        } else {
          slack[uj] -= delta;
        }
      }
      column = next_column;
    } while (row_of_column[static_cast<std::size_t>(column)] != 0);
    // Augment along the path back to the virtual column.
    do {
      const Eigen::Index from = previous_column[static_cast<std::size_t>(column)];
      row_of_column[static_cast<std::size_t>(column)] = row_of_column[static_cast<std::size_t>(from)];
      column = from;
    } while (column != 0);
  }
  std::vector<Eigen::Index> assignment(static_cast<std::size_t>(n));
  for (Eigen::Index j = 1; j <= n; ++j) assignment[static_cast<std::size_t>(row_of_column[static_cast<std::size_t>(j)] - 1)] = j - 1;
  return assignment;
}

double exact_w1(const RowMatrix& x, const RowMatrix& y) {
  if (x.rows() != y.rows() || x.cols() != y.cols()) throw InputError("exact W1: the point sets must have the same shape");
  if (x.rows() == 0) throw InputError("exact W1: empty point sets");
  if (!x.allFinite() || !y.allFinite()) return std::numeric_limits<double>::infinity();
  RowMatrix cost(x.rows(), y.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) cost.row(i) = (y.rowwise() - x.row(i)).rowwise().norm().transpose();
  const auto assignment = solve_assignment(cost);
  double total = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) total += cost(i, assignment[static_cast<std::size_t>(i)]);
  return total / static_cast<double>(x.rows());
}

}  // namespace sbi::stability
