//===- BitAllocation.h - Exact multiple-choice knapsack for bit allocation -*- C++ -*-===//
//
// qc-allocate-bits picks one weight format per layer among candidates, each
// with a cost (packed bytes, or roofline latency) and a predicted error
// (tr(ΔW·H·ΔWᵀ)), minimizing the total error under a total cost budget: the
// multiple-choice knapsack problem. It is solved exactly by dynamic
// programming over the cost discretized into units:
//  * costs that are whole numbers (bytes) use their greatest common divisor
//    as the unit, so the DP is exact on the true costs, as long as
//    budget / unit stays within `maxStates`;
//  * otherwise (latencies, or too many states) every cost is rounded UP to
//    a unit of budget / maxStates: the solution is exact for the rounded
//    costs and never exceeds the true budget; `unit` and `exactCosts` say
//    which happened.
// No MLIR here; the unit test checks it against brute force.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_FORMATS_BITALLOCATION_H
#define QUANTC_FORMATS_BITALLOCATION_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// One candidate of one layer.
struct KnapsackItem {
  double cost = 0;  // >= 0
  double error = 0; // >= 0
};

struct KnapsackSolution {
  /// choice[i]: the index of the candidate layer i takes.
  std::vector<int> choice;
  double cost = 0;
  double error = 0;
  /// The cost unit the DP ran on, and whether costs were multiples of it.
  double unit = 0;
  bool exactCosts = true;
};

/// Minimizes the sum of errors with one item per group and total cost <=
/// `budget`. Fails (error set) when a group is empty or even the cheapest
/// choice of every group exceeds the budget.
std::optional<KnapsackSolution>
solveMultipleChoiceKnapsack(const std::vector<std::vector<KnapsackItem>> &groups,
                            double budget, std::string &error,
                            int64_t maxStates = 1 << 22);

/// The error-vs-cost frontier: for each of `budgets`, the least total error
/// within that cost (+inf where no choice fits), from one DP run up to the
/// largest budget on at most `maxStates` units.
std::vector<double>
knapsackFrontier(const std::vector<std::vector<KnapsackItem>> &groups,
                 const std::vector<double> &budgets,
                 int64_t maxStates = 1 << 18);

} // namespace quantc

#endif // QUANTC_FORMATS_BITALLOCATION_H
