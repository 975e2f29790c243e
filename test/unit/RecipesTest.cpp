//===- RecipesTest.cpp - JSON recipes: stage switches and their errors ----===//
//
// The stages a JSON recipe switches on (gptq, bias_correct, smooth) take
// true / false / null / an object of options; equalize and the options'
// flags take booleans only. Every malformed value is one error naming the
// file and the key path.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Recipes.h"

#include <gtest/gtest.h>

using namespace quantc;

namespace {

std::optional<Recipe> parse(const std::string &body, std::string &error) {
  error.clear();
  return parseRecipeJson("{\"weights\": \"int8\"" + body + "}", "r.json",
                         error);
}

TEST(RecipesTest, StageSwitches) {
  std::string error;
  std::optional<Recipe> recipe = parse("", error);
  ASSERT_TRUE(recipe) << error;
  EXPECT_FALSE(recipe->gptq);
  EXPECT_FALSE(recipe->smooth);
  EXPECT_FALSE(recipe->biasCorrect);
  EXPECT_FALSE(recipe->equalize);

  recipe = parse(", \"gptq\": true, \"smooth\": true, \"bias_correct\": true, "
                 "\"equalize\": true",
                 error);
  ASSERT_TRUE(recipe) << error;
  ASSERT_TRUE(recipe->gptq);
  EXPECT_EQ(recipe->gptq->damp, 0.01);
  EXPECT_EQ(recipe->gptq->blockSize, 128);
  EXPECT_FALSE(recipe->gptq->actOrder);
  ASSERT_TRUE(recipe->smooth);
  EXPECT_EQ(recipe->smooth->alpha, 0.5);
  EXPECT_FALSE(recipe->smooth->bias);
  ASSERT_TRUE(recipe->biasCorrect);
  EXPECT_FALSE(recipe->biasCorrect->addBias);
  EXPECT_TRUE(recipe->equalize);

  recipe = parse(", \"gptq\": false, \"smooth\": null, \"bias_correct\": false",
                 error);
  ASSERT_TRUE(recipe) << error;
  EXPECT_FALSE(recipe->gptq);
  EXPECT_FALSE(recipe->smooth);
  EXPECT_FALSE(recipe->biasCorrect);
}

TEST(RecipesTest, StageOptions) {
  std::string error;
  std::optional<Recipe> recipe =
      parse(", \"gptq\": {\"damp\": 0.1, \"block_size\": 32, "
            "\"act_order\": true}, \"smooth\": {\"alpha\": 0.75, \"bias\": "
            "true}, \"bias_correct\": {\"add_bias\": true}",
            error);
  ASSERT_TRUE(recipe) << error;
  ASSERT_TRUE(recipe->gptq);
  EXPECT_EQ(recipe->gptq->damp, 0.1);
  EXPECT_EQ(recipe->gptq->blockSize, 32);
  EXPECT_TRUE(recipe->gptq->actOrder);
  ASSERT_TRUE(recipe->smooth);
  EXPECT_EQ(recipe->smooth->alpha, 0.75);
  EXPECT_TRUE(recipe->smooth->bias);
  ASSERT_TRUE(recipe->biasCorrect);
  EXPECT_TRUE(recipe->biasCorrect->addBias);

  // Options not given keep their defaults.
  recipe = parse(", \"gptq\": {\"block_size\": 64}", error);
  ASSERT_TRUE(recipe) << error;
  EXPECT_EQ(recipe->gptq->damp, 0.01);
  EXPECT_EQ(recipe->gptq->blockSize, 64);
}

TEST(RecipesTest, Errors) {
  const std::pair<const char *, const char *> cases[] = {
      {", \"gptq\": 3", "r.json: gptq: expected true, false, null or an object"},
      {", \"gptq\": {\"damp\": -1}",
       "r.json: gptq.damp: expected a non-negative number"},
      {", \"gptq\": {\"block_size\": 0}",
       "r.json: gptq.block_size: expected a positive integer"},
      {", \"gptq\": {\"act_order\": 1}",
       "r.json: gptq.act_order: expected true or false"},
      {", \"gptq\": {\"dampening\": 1}",
       "r.json: gptq.dampening: unknown key (known: damp, block_size, "
       "act_order)"},
      {", \"smooth\": {\"alpha\": 1.5}",
       "r.json: smooth.alpha: expected a number in [0, 1]"},
      {", \"smooth\": {\"bias\": \"yes\"}",
       "r.json: smooth.bias: expected true or false"},
      {", \"smooth\": \"on\"",
       "r.json: smooth: expected true, false, null or an object {\"alpha\": "
       "0.5, \"bias\": false}"},
      {", \"bias_correct\": {\"add_bias\": 0}",
       "r.json: bias_correct.add_bias: expected true or false"},
      {", \"bias_correct\": {\"add\": true}",
       "r.json: bias_correct.add: unknown key (known: add_bias)"},
      {", \"equalize\": \"true\"", "r.json: equalize: expected true or false"},
  };
  for (const auto &[body, expected] : cases) {
    std::string error;
    EXPECT_FALSE(parse(body, error)) << body;
    EXPECT_EQ(error, expected) << body;
  }
}

} // namespace
