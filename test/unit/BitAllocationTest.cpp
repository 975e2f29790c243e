//===- BitAllocationTest.cpp - The knapsack solver against brute force ----===//

#include "quantc/Formats/BitAllocation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace quantc;

namespace {

/// The least total error within `budget`, trying every combination.
double bruteForce(const std::vector<std::vector<KnapsackItem>> &groups,
                  double budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> index(groups.size(), 0);
  while (true) {
    double cost = 0, error = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
      cost += groups[i][index[i]].cost;
      error += groups[i][index[i]].error;
    }
    if (cost <= budget)
      best = std::min(best, error);
    size_t i = 0;
    for (; i < groups.size(); ++i) {
      if (++index[i] < groups[i].size())
        break;
      index[i] = 0;
    }
    if (i == groups.size())
      return best;
  }
}

std::vector<std::vector<KnapsackItem>> randomInstance(std::mt19937 &rng,
                                                      bool integerCosts) {
  std::uniform_int_distribution<int> groupCount(1, 6), itemCount(1, 5),
      cost(0, 40);
  std::uniform_real_distribution<double> error(0.0, 100.0), fraction(0.0, 1.0);
  std::vector<std::vector<KnapsackItem>> groups(groupCount(rng));
  for (auto &group : groups) {
    group.resize(itemCount(rng));
    for (KnapsackItem &item : group) {
      // Multiples of 4 with an occasional odd cost, as packed bytes are.
      item.cost = integerCosts ? 4.0 * cost(rng) + (fraction(rng) < 0.2 ? 2 : 0)
                               : 40.0 * fraction(rng);
      item.error = error(rng);
    }
  }
  return groups;
}

TEST(BitAllocation, MatchesBruteForceOnIntegerCosts) {
  std::mt19937 rng(11);
  int solved = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    auto groups = randomInstance(rng, true);
    double budget = std::uniform_int_distribution<int>(0, 400)(rng);
    double expected = bruteForce(groups, budget);
    std::string error;
    std::optional<KnapsackSolution> solution =
        solveMultipleChoiceKnapsack(groups, budget, error);
    if (std::isinf(expected)) {
      EXPECT_FALSE(solution) << "trial " << trial;
      continue;
    }
    ASSERT_TRUE(solution) << "trial " << trial << ": " << error;
    EXPECT_TRUE(solution->exactCosts);
    EXPECT_LE(solution->cost, budget);
    EXPECT_NEAR(solution->error, expected, 1e-9) << "trial " << trial;
    // The reported totals are those of the choices.
    double cost = 0, total = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
      cost += groups[i][solution->choice[i]].cost;
      total += groups[i][solution->choice[i]].error;
    }
    EXPECT_EQ(cost, solution->cost);
    EXPECT_NEAR(total, solution->error, 1e-9);
    ++solved;
  }
  EXPECT_GT(solved, 1000);
}

TEST(BitAllocation, RealCostsStayWithinBudget) {
  // Latency-like costs: rounded up to units of budget / maxStates. The
  // answer is feasible, at least the true optimum, and with many states
  // within a sliver of it.
  std::mt19937 rng(12);
  for (int trial = 0; trial < 500; ++trial) {
    auto groups = randomInstance(rng, false);
    double budget = std::uniform_real_distribution<double>(0, 120)(rng);
    double expected = bruteForce(groups, budget);
    std::string error;
    std::optional<KnapsackSolution> solution =
        solveMultipleChoiceKnapsack(groups, budget, error, 1 << 16);
    if (!solution)
      continue; // infeasible, or feasible only within the rounding
    EXPECT_FALSE(solution->exactCosts);
    EXPECT_LE(solution->cost, budget + 1e-9);
    EXPECT_GE(solution->error, expected - 1e-9);
    // Whatever the rounding loses is bounded by the optimum at a budget
    // smaller by one unit per group.
    double tighter = bruteForce(groups, budget - groups.size() * solution->unit);
    EXPECT_LE(solution->error, tighter + 1e-9);
  }
}

TEST(BitAllocation, CoarsensWhenTooManyStates) {
  // Costs whose gcd is 1 under a budget of 10^6 with 1000 states: rounded
  // up, still within budget.
  std::vector<std::vector<KnapsackItem>> groups = {
      {{300001, 1.0}, {500001, 0.5}}, {{200003, 2.0}, {400007, 0.1}}};
  std::string error;
  std::optional<KnapsackSolution> solution =
      solveMultipleChoiceKnapsack(groups, 1000000, error, 1000);
  ASSERT_TRUE(solution) << error;
  EXPECT_FALSE(solution->exactCosts);
  EXPECT_LE(solution->cost, 1000000);
  EXPECT_EQ(solution->choice, (std::vector<int>{1, 1})); // 900008, error 0.6
}

TEST(BitAllocation, FrontierAndErrors) {
  std::vector<std::vector<KnapsackItem>> groups = {
      {{4, 10.0}, {8, 1.0}}, {{4, 20.0}, {8, 2.0}}};
  std::vector<double> frontier = knapsackFrontier(groups, {4, 8, 12, 16});
  EXPECT_TRUE(std::isinf(frontier[0]));
  EXPECT_EQ(frontier[1], 30.0);
  EXPECT_EQ(frontier[2], 12.0);
  EXPECT_EQ(frontier[3], 3.0);
  std::string error;
  EXPECT_FALSE(solveMultipleChoiceKnapsack(groups, 7, error));
  EXPECT_NE(error.find("cheapest needs 8"), std::string::npos) << error;
  EXPECT_FALSE(solveMultipleChoiceKnapsack({{}}, 7, error));
}

} // namespace
