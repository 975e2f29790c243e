//===- BitAllocation.cpp - Exact multiple-choice knapsack -----------------===//
//
// DP over "total cost at most c": best_i[c] = min over the items j of group i
// with cost w_ij <= c of best_{i-1}[c - w_ij] + e_ij, best_0[c] = 0. The
// choices are kept per group and capacity (one byte each) to walk back.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/BitAllocation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace quantc {

namespace {

const double kInfinity = std::numeric_limits<double>::infinity();

struct Discretized {
  std::vector<std::vector<int64_t>> costs;
  int64_t capacity = 0;
  double unit = 1;
  bool exact = true;
};

Discretized discretize(const std::vector<std::vector<KnapsackItem>> &groups,
                       double budget, int64_t maxStates) {
  Discretized d;
  bool integral = budget < 9.0e15;
  int64_t divisor = 0;
  for (const auto &group : groups)
    for (const KnapsackItem &item : group) {
      if (!(item.cost == std::floor(item.cost)) || item.cost > 9.0e15)
        integral = false;
      else
        divisor = std::gcd(divisor, static_cast<int64_t>(item.cost));
    }
  if (integral) {
    d.unit = static_cast<double>(std::max<int64_t>(divisor, 1));
    d.capacity = static_cast<int64_t>(std::floor(budget / d.unit));
  }
  if (!integral || d.capacity > maxStates) {
    d.exact = false;
    d.unit = budget > 0 ? budget / static_cast<double>(maxStates) : 1.0;
    d.capacity = budget > 0 ? maxStates : 0;
  }
  for (const auto &group : groups) {
    std::vector<int64_t> costs;
    for (const KnapsackItem &item : group) {
      double units = item.cost / d.unit;
      // Exact multiples stay exact; anything else rounds up, so a solution
      // within the discretized capacity is within the true budget.
      int64_t rounded = d.exact ? static_cast<int64_t>(std::llround(units))
                                : static_cast<int64_t>(std::ceil(units));
      costs.push_back(rounded);
    }
    d.costs.push_back(std::move(costs));
  }
  return d;
}

/// One DP step: `next[c]` from `best` and one group's items.
void relax(const std::vector<double> &best, std::vector<double> &next,
           const std::vector<int64_t> &costs,
           const std::vector<KnapsackItem> &items, uint8_t *choices) {
  const int64_t capacity = static_cast<int64_t>(best.size()) - 1;
  std::fill(next.begin(), next.end(), kInfinity);
  for (size_t j = 0; j < items.size(); ++j) {
    int64_t w = costs[j];
    if (w > capacity)
      continue;
    double e = items[j].error;
    for (int64_t c = w; c <= capacity; ++c) {
      double value = best[c - w] + e;
      if (value < next[c]) {
        next[c] = value;
        if (choices)
          choices[c] = static_cast<uint8_t>(j);
      }
    }
  }
}

} // namespace

std::optional<KnapsackSolution>
solveMultipleChoiceKnapsack(const std::vector<std::vector<KnapsackItem>> &groups,
                            double budget, std::string &error,
                            int64_t maxStates) {
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].empty() || groups[i].size() > 255) {
      error = "group " + std::to_string(i) + " has " +
              std::to_string(groups[i].size()) + " choices (1 to 255)";
      return std::nullopt;
    }
    for (const KnapsackItem &item : groups[i])
      if (!(item.cost >= 0) || !(item.error >= 0) || std::isinf(item.cost)) {
        error = "group " + std::to_string(i) +
                " has a negative or non-finite cost or error";
        return std::nullopt;
      }
  }
  if (!(budget >= 0)) {
    error = "the budget must be non-negative";
    return std::nullopt;
  }
  Discretized d = discretize(groups, budget, maxStates);
  const int64_t states = d.capacity + 1;
  std::vector<double> best(states, 0.0), next(states);
  std::vector<uint8_t> choices(groups.size() * states, 0);
  for (size_t i = 0; i < groups.size(); ++i) {
    relax(best, next, d.costs[i], groups[i], &choices[i * states]);
    best.swap(next);
  }
  if (!std::isfinite(best[d.capacity])) {
    double cheapest = 0;
    for (const auto &group : groups) {
      double least = kInfinity;
      for (const KnapsackItem &item : group)
        least = std::min(least, item.cost);
      cheapest += least;
    }
    error = "no choice fits the budget " + std::to_string(budget) +
            " (the cheapest needs " + std::to_string(cheapest) + ")";
    return std::nullopt;
  }
  KnapsackSolution solution;
  solution.unit = d.unit;
  solution.exactCosts = d.exact;
  solution.choice.assign(groups.size(), 0);
  int64_t c = d.capacity;
  for (size_t i = groups.size(); i-- > 0;) {
    int j = choices[i * states + c];
    solution.choice[i] = j;
    c -= d.costs[i][j];
    solution.cost += groups[i][j].cost;
    solution.error += groups[i][j].error;
  }
  return solution;
}

std::vector<double>
knapsackFrontier(const std::vector<std::vector<KnapsackItem>> &groups,
                 const std::vector<double> &budgets, int64_t maxStates) {
  double largest = 0;
  for (double b : budgets)
    largest = std::max(largest, b);
  Discretized d = discretize(groups, largest, maxStates);
  const int64_t states = d.capacity + 1;
  std::vector<double> best(states, 0.0), next(states);
  for (size_t i = 0; i < groups.size(); ++i) {
    relax(best, next, d.costs[i], groups[i], nullptr);
    best.swap(next);
  }
  std::vector<double> frontier;
  for (double b : budgets) {
    int64_t c = std::min<int64_t>(
        d.capacity, static_cast<int64_t>(std::floor(b / d.unit + 1e-9)));
    frontier.push_back(c < 0 ? kInfinity : best[c]);
  }
  return frontier;
}

} // namespace quantc
