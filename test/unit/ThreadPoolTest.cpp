//===- ThreadPoolTest.cpp - Tests of quantc_parallel_for ------------------===//
//
// Every item runs exactly once for any thread count and item count, a
// thread's claims stream through its own range before it takes single items
// from the back of another's, nested and concurrent calls run inline
// instead of adding threads, a job finishes while a worker is held up, and
// the thread count follows quantc_set_num_threads.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <mutex>
#include <thread>
#include <vector>

namespace {

struct Coverage {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  explicit Coverage(int64_t n) : hits(n) {}
};

void countItems(void *context, int64_t begin, int64_t end) {
  auto *coverage = static_cast<Coverage *>(context);
  for (int64_t i = begin; i < end; ++i)
    coverage->hits[i].fetch_add(1);
  std::lock_guard<std::mutex> lock(coverage->mutex);
  coverage->threads.insert(std::this_thread::get_id());
}

TEST(ThreadPool, EveryItemOnce) {
  for (int threads : {1, 2, 3, 4}) {
    quantc_set_num_threads(threads);
    EXPECT_EQ(quantc_get_num_threads(), threads);
    for (int64_t count : {0, 1, 2, 3, 5, 64, 1001}) {
      Coverage coverage(count);
      quantc_parallel_for(countItems, &coverage, count);
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(coverage.hits[i].load(), 1)
            << "item " << i << " of " << count << " with " << threads
            << " threads";
      EXPECT_LE(coverage.threads.size(), static_cast<size_t>(threads));
    }
  }
  quantc_set_num_threads(0);
}

TEST(ThreadPool, UsesAllThreadsForManyItems) {
  quantc_set_num_threads(3);
  Coverage coverage(3);
  // Each range blocks until every thread has started one, so this only ends
  // if three threads run at once.
  static std::atomic<int> started;
  started = 0;
  quantc_parallel_for(
      [](void *context, int64_t begin, int64_t end) {
        started.fetch_add(1);
        while (started.load() < 3)
          std::this_thread::yield();
        countItems(context, begin, end);
      },
      &coverage, 3);
  EXPECT_EQ(coverage.threads.size(), 3u);
  quantc_set_num_threads(0);
}

TEST(ThreadPool, NestedCallsRunInline) {
  quantc_set_num_threads(2);
  static Coverage inner(4 * 8);
  static std::atomic<int> outerRanges;
  outerRanges = 0;
  quantc_parallel_for(
      [](void *, int64_t begin, int64_t end) {
        outerRanges.fetch_add(1);
        for (int64_t i = begin; i < end; ++i) {
          std::thread::id self = std::this_thread::get_id();
          struct Slice {
            int64_t base;
            std::thread::id self;
            bool sameThread = true;
          } slice{i * 8, self};
          quantc_parallel_for(
              [](void *context, int64_t b, int64_t e) {
                auto *s = static_cast<Slice *>(context);
                s->sameThread &= std::this_thread::get_id() == s->self;
                for (int64_t j = b; j < e; ++j)
                  inner.hits[s->base + j].fetch_add(1);
              },
              &slice, 8);
          EXPECT_TRUE(slice.sameThread);
        }
      },
      nullptr, 4);
  EXPECT_GE(outerRanges.load(), 1);
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(inner.hits[i].load(), 1) << i;
  quantc_set_num_threads(0);
}

// The caller owns items [0, 32) of 64 on 2 threads: its claims start at 0
// and follow each other in order, each at most a quarter of what is left
// over the threads, until its range is empty (the worker may have taken its
// last items from the back); after that it takes single items from the back
// of the worker's range [32, 64), in descending order, whatever the worker
// does meanwhile.
TEST(ThreadPool, OwnRangeInOrderThenStealsFromTheBack) {
  quantc_set_num_threads(2);
  for (int round = 0; round < 50; ++round) {
    static std::vector<std::pair<int64_t, int64_t>> callerClaims;
    static std::thread::id caller;
    callerClaims.clear();
    caller = std::this_thread::get_id();
    quantc_parallel_for(
        [](void *, int64_t begin, int64_t end) {
          if (std::this_thread::get_id() == caller)
            callerClaims.push_back({begin, end});
        },
        nullptr, 64);
    ASSERT_FALSE(callerClaims.empty());
    EXPECT_EQ(callerClaims.front().first, 0);
    size_t i = 1;
    int64_t remaining = 32 - callerClaims.front().second;
    EXPECT_LE(callerClaims.front().second, 4); // 32 / (4 * 2)
    for (; i < callerClaims.size() && callerClaims[i].first < 32; ++i) {
      EXPECT_EQ(callerClaims[i].first, callerClaims[i - 1].second) << i;
      EXPECT_LE(callerClaims[i].second - callerClaims[i].first,
                std::max<int64_t>(1, remaining / 8))
          << i;
      remaining = 32 - callerClaims[i].second;
    }
    EXPECT_LE(callerClaims[i - 1].second, 32);
    for (size_t j = i; j < callerClaims.size(); ++j) {
      EXPECT_EQ(callerClaims[j].second - callerClaims[j].first, 1) << j;
      if (j > i)
        EXPECT_LT(callerClaims[j].first, callerClaims[j - 1].first) << j;
    }
  }
  quantc_set_num_threads(0);
}

// A worker stuck in a long item does not hold up the rest: the other
// threads take the remaining chunks.
TEST(ThreadPool, OthersTakeOverTheRemainingChunks) {
  quantc_set_num_threads(2);
  static std::atomic<int> itemsByCaller;
  itemsByCaller = 0;
  static std::thread::id caller;
  caller = std::this_thread::get_id();
  quantc_parallel_for(
      [](void *, int64_t begin, int64_t end) {
        if (std::this_thread::get_id() != caller) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          return;
        }
        itemsByCaller.fetch_add(static_cast<int>(end - begin));
      },
      nullptr, 64);
  // The worker sleeps in its first chunk (at most 8 of 64 items).
  EXPECT_GE(itemsByCaller.load(), 56);
  quantc_set_num_threads(0);
}

// Back-to-back jobs of alternating size on more threads than CPUs, so that
// workers are preempted between reading a job and claiming from it. A worker
// that paired the previous job's counter with the next job's count claimed
// phantom items and the caller waited forever (the bug of 54a4684, which this
// caught in about half the runs); the watchdog turns a hang into a failure.
TEST(ThreadPool, BackToBackJobsOfChangingSize) {
  quantc_set_num_threads(4);
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !finished.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!finished.load()) {
      std::fprintf(stderr, "quantc_parallel_for hung\n");
      std::abort();
    }
  });
  // Alternate contexts too: an item run with the previous job's context
  // (fields read before the new job's were written) misses its own.
  Coverage coverages[2] = {Coverage(97), Coverage(97)};
  for (int job = 0; job < 100000; ++job) {
    int64_t count = job % 2 ? 2 : 97;
    Coverage &coverage = coverages[job % 2];
    for (int64_t i = 0; i < count; ++i)
      coverage.hits[i].store(0);
    quantc_parallel_for(countItems, &coverage, count);
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(coverage.hits[i].load(), 1) << "job " << job << " item " << i;
  }
  finished = true;
  watchdog.join();
  quantc_set_num_threads(0);
}

TEST(ThreadPool, ConcurrentCallersAllFinish) {
  quantc_set_num_threads(2);
  std::vector<std::thread> callers;
  std::vector<std::unique_ptr<Coverage>> coverages;
  for (int c = 0; c < 4; ++c)
    coverages.push_back(std::make_unique<Coverage>(500));
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int repeat = 0; repeat < 50; ++repeat)
        quantc_parallel_for(countItems, coverages[c].get(), 500);
    });
  for (std::thread &caller : callers)
    caller.join();
  for (auto &coverage : coverages)
    for (int64_t i = 0; i < 500; ++i)
      ASSERT_EQ(coverage->hits[i].load(), 50);
  quantc_set_num_threads(0);
}

TEST(ThreadPool, DefaultFromEnvironment) {
  setenv("QUANTC_NUM_THREADS", "3", 1);
  quantc_set_num_threads(0);
  EXPECT_EQ(quantc_get_num_threads(), 3);
  setenv("QUANTC_NUM_THREADS", "zero", 1);
  quantc_set_num_threads(0);
  EXPECT_GE(quantc_get_num_threads(), 1);
  unsetenv("QUANTC_NUM_THREADS");
  quantc_set_num_threads(0);
}

} // namespace
