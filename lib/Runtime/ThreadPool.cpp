//===- ThreadPool.cpp - The runtime's parallel-for ------------------------===//
//
// A job is published by bumping a generation counter; workers spin on it for
// a short while after each job (kernels of one model run back to back, and a
// futex wake-up costs as much as a small GEMV), then sleep on a condition
// variable. Every worker takes part in every job, with an empty range when
// there are fewer items than threads, so a job is over only when every worker
// has seen it and none can mistake the next job's fields for its own.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/ThreadPool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QUANTC_CPU_RELAX() _mm_pause()
#else
#define QUANTC_CPU_RELAX() std::this_thread::yield()
#endif

namespace {

/// How long an idle worker polls for the next job before it sleeps.
constexpr std::chrono::microseconds kSpinWindow(1000);

int availableCpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0)
      return count;
  }
#endif
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware ? static_cast<int>(hardware) : 1;
}

int defaultThreads() {
  if (const char *env = std::getenv("QUANTC_NUM_THREADS")) {
    char *end = nullptr;
    long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value > 0 && value <= 4096)
      return static_cast<int>(value);
  }
  return availableCpus();
}

/// Set while a thread runs a task, so that a nested parallel_for runs inline.
thread_local bool insideTask = false;

class Pool {
public:
  static Pool &get() {
    static Pool pool;
    return pool;
  }

  int threads() {
    std::lock_guard<std::mutex> lock(submitMutex);
    return numThreads;
  }

  void resize(int threads) {
    std::lock_guard<std::mutex> lock(submitMutex);
    stopWorkers();
    numThreads = threads > 0 ? threads : defaultThreads();
    startWorkers();
  }

  void run(quantc_task_fn fn, void *context, int64_t count) {
    if (count <= 0)
      return;
    if (insideTask) {
      fn(context, 0, count);
      return;
    }
    std::unique_lock<std::mutex> lock(submitMutex, std::try_to_lock);
    // Another thread's job is running: do not add threads on top of it.
    if (!lock.owns_lock() || numThreads == 1 || count == 1) {
      if (lock.owns_lock())
        lock.unlock();
      runInline(fn, context, count);
      return;
    }
    job.fn = fn;
    job.context = context;
    job.count = count;
    job.participants = numThreads;
    remaining.store(numThreads - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> sleepLock(sleepMutex);
      generation.fetch_add(1, std::memory_order_release);
      if (sleepers > 0)
        wake.notify_all();
    }
    insideTask = true;
    runRange(0);
    insideTask = false;
    while (remaining.load(std::memory_order_acquire) != 0)
      QUANTC_CPU_RELAX();
  }

private:
  struct Job {
    quantc_task_fn fn = nullptr;
    void *context = nullptr;
    int64_t count = 0;
    int participants = 1;
  };

  Pool() : numThreads(defaultThreads()) { startWorkers(); }
  ~Pool() { stopWorkers(); }

  static void runInline(quantc_task_fn fn, void *context, int64_t count) {
    bool wasInside = insideTask;
    insideTask = true;
    fn(context, 0, count);
    insideTask = wasInside;
  }

  /// Participant p of P takes items [count * p / P, count * (p + 1) / P).
  void runRange(int participant) {
    int64_t p = participant, total = job.participants;
    int64_t begin = job.count * p / total;
    int64_t end = job.count * (p + 1) / total;
    if (begin < end)
      job.fn(job.context, begin, end);
  }

  void startWorkers() {
    stop = false;
    uint64_t current = generation.load(std::memory_order_acquire);
    for (int index = 1; index < numThreads; ++index)
      workers.emplace_back([this, index, current] { workerLoop(index, current); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> sleepLock(sleepMutex);
      stop = true;
      wake.notify_all();
    }
    for (std::thread &worker : workers)
      worker.join();
    workers.clear();
  }

  void workerLoop(int index, uint64_t seen) {
    using Clock = std::chrono::steady_clock;
    while (true) {
      uint64_t current;
      Clock::time_point idleSince = Clock::now();
      unsigned polls = 0;
      while ((current = generation.load(std::memory_order_acquire)) == seen) {
        if (stop.load(std::memory_order_relaxed))
          return;
        QUANTC_CPU_RELAX();
        if (++polls % 256 != 0 || Clock::now() - idleSince < kSpinWindow)
          continue;
        std::unique_lock<std::mutex> sleepLock(sleepMutex);
        ++sleepers;
        wake.wait(sleepLock, [&] {
          return generation.load(std::memory_order_acquire) != seen || stop;
        });
        --sleepers;
      }
      seen = current;
      insideTask = true;
      runRange(index);
      insideTask = false;
      remaining.fetch_sub(1, std::memory_order_release);
    }
  }

  std::mutex submitMutex;
  int numThreads;
  Job job;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> remaining{0};
  std::atomic<bool> stop{false};
  std::mutex sleepMutex;
  std::condition_variable wake;
  int sleepers = 0;
  std::vector<std::thread> workers;
};

} // namespace

extern "C" void quantc_parallel_for(quantc_task_fn fn, void *context,
                                    int64_t count) {
  Pool::get().run(fn, context, count);
}

extern "C" void quantc_set_num_threads(int32_t threads) {
  Pool::get().resize(threads);
}

extern "C" int32_t quantc_get_num_threads(void) {
  return Pool::get().threads();
}

extern "C" void *quantc_kernel_alloc(int64_t bytes) {
  void *memory = nullptr;
  size_t size = bytes > 0 ? static_cast<size_t>(bytes) : 64;
  size = (size + 63) / 64 * 64;
  if (posix_memalign(&memory, 64, size) != 0)
    return nullptr;
  return memory;
}

extern "C" void quantc_kernel_free(void *memory) { std::free(memory); }
