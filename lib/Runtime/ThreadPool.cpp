//===- ThreadPool.cpp - The runtime's parallel-for ------------------------===//
//
// Each thread owns an equal contiguous range of the items and claims chunks
// from its front, shrinking as the range empties (a quarter of what is left
// per thread); a thread whose range is empty takes single items from the
// back of the others'. So each thread streams through contiguous items (the
// weights of a GEMV: its own rows, in order), the threads finish within
// about one item of each other (chunks handed out from one shared counter
// left one thread alone for up to a chunk at the end: 5-12 % of a 4096 x
// 4096 W4A16 GEMV at 2 threads when DRAM was fast), and a thread the OS
// does not schedule delays nobody: the others empty its range from the back,
// and the caller never waits for a worker that has not started. Each range
// word carries the job's sequence number in its high bits; a claim is a
// compare-and-swap that fails once a newer job has replaced the one a
// thread read, so a late worker can never run an item of the wrong job. Jobs
// of more than 2^22 items take chunks from one counter of the same kind. A
// job is over when all its items are done; each thread counts its own on a
// cache line of its own, as its range word has one (with the words of all
// threads on one line, every claim moved that line between the cores).
//
// Idle workers spin for a short while after each job (kernels of one model
// run back to back, and a futex wake-up costs as much as a small GEMV), then
// sleep on a condition variable.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
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
    // Chunks of about a quarter of a thread's share: small enough that a
    // missing thread's share is taken over, large enough to keep each
    // thread's columns contiguous.
    uint64_t sequence = (nextSequence++) & kSequenceMask;
    // Close the previous job before touching the fields: a worker that read
    // its counter and is about to claim would otherwise pair the old
    // counter with this job's count. Its claim now fails, and a worker that
    // reads the closed counter finds no items.
    // The fields are stored with release and loaded with acquire, so a
    // worker that reads one of them has the closed counter in view when it
    // tries to claim.
    counter.store((sequence << kSequenceShift) | kItemMask,
                  std::memory_order_relaxed);
    job.fn.store(fn, std::memory_order_release);
    job.context.store(context, std::memory_order_release);
    job.count.store(count, std::memory_order_release);
    job.grain.store(std::max<int64_t>(1, count / (4 * numThreads)),
                    std::memory_order_release);
    for (int p = 0; p < numThreads; ++p)
      slots[p].done.store(0, std::memory_order_relaxed);
    // The ranges need no closing first: the previous job's are all empty (its
    // items are done), and a late worker's claim fails on the new sequence.
    if (ranged(count))
      for (int p = 0; p < numThreads; ++p)
        slots[p].range.store(packRange(sequence, count * p / numThreads,
                                  count * (p + 1) / numThreads),
                        std::memory_order_release);
    {
      std::lock_guard<std::mutex> sleepLock(sleepMutex);
      counter.store(sequence << kSequenceShift, std::memory_order_release);
      generation.fetch_add(1, std::memory_order_release);
      if (sleepers > 0)
        wake.notify_all();
    }
    insideTask = true;
    workOn(sequence, 0);
    insideTask = false;
    while (doneItems() != count)
      QUANTC_CPU_RELAX();
  }

private:
  static uint64_t packRange(uint64_t sequence, uint64_t front, uint64_t back) {
    return (sequence << kSequenceShift) | (front << kRangeBits) | back;
  }
  /// Written by the caller between closing the previous job's counter and
  /// publishing this one's; read by workers after they acquire the counter.
  /// Atomic because a late worker may read them while the next job writes
  /// them; its claim then fails.
  struct Job {
    std::atomic<quantc_task_fn> fn{nullptr};
    std::atomic<void *> context{nullptr};
    std::atomic<int64_t> count{0};
    std::atomic<int64_t> grain{1};
  };

  static constexpr int kSequenceShift = 44;
  static constexpr uint64_t kSequenceMask = (1ull << 20) - 1;
  static constexpr uint64_t kItemMask = (1ull << kSequenceShift) - 1;
  /// A range word: sequence (20 bits), front and back (22 bits each).
  static constexpr int kRangeBits = 22;
  static constexpr uint64_t kRangeMask = (1ull << kRangeBits) - 1;
  /// Jobs whose items fit a range word are shared out by ranges.
  static bool ranged(int64_t count) {
    return static_cast<uint64_t>(count) <= kRangeMask;
  }

  Pool() : numThreads(defaultThreads()) { startWorkers(); }
  ~Pool() { stopWorkers(); }

  static void runInline(quantc_task_fn fn, void *context, int64_t count) {
    bool wasInside = insideTask;
    insideTask = true;
    fn(context, 0, count);
    insideTask = wasInside;
  }

  /// Runs items of job `sequence` as participant `self` (0: the caller)
  /// until none is left (or a newer job has replaced it).
  void workOn(uint64_t sequence, int self) {
    if (ranged(job.count.load(std::memory_order_acquire)))
      workOnRanges(sequence, self);
    else
      workOnCounter(sequence, self);
  }

  /// Claims from the front of range `owner` (chunks of a quarter of what
  /// is left, over the threads) or, `fromBack`, single items from its back,
  /// and runs them; returns when the range is empty or no longer
  /// `sequence`'s.
  void drainRange(uint64_t sequence, int self, int owner, bool fromBack) {
    while (true) {
      uint64_t seen = slots[owner].range.load(std::memory_order_acquire);
      if ((seen >> kSequenceShift) != sequence)
        return;
      uint64_t front = (seen >> kRangeBits) & kRangeMask,
               back = seen & kRangeMask;
      if (front >= back)
        return;
      // Read only now: a word of `sequence` with items was stored after
      // this job's fields, which stay until all its items are done. (A
      // worker can learn `sequence` from the closed counter before the
      // fields are written; loaded earlier, they could be the last job's.)
      quantc_task_fn fn = job.fn.load(std::memory_order_acquire);
      void *context = job.context.load(std::memory_order_acquire);
      uint64_t take =
          fromBack ? 1
                   : std::max<uint64_t>(1, (back - front) / (4 * numThreads));
      uint64_t begin = fromBack ? back - take : front, end = begin + take;
      uint64_t next = fromBack ? packRange(sequence, front, begin)
                               : packRange(sequence, end, back);
      if (!slots[owner].range.compare_exchange_weak(seen, next,
                                               std::memory_order_acq_rel,
                                               std::memory_order_acquire))
        continue;
      fn(context, static_cast<int64_t>(begin), static_cast<int64_t>(end));
      slots[self].done.fetch_add(static_cast<int64_t>(take),
                                 std::memory_order_release);
    }
  }

  void workOnRanges(uint64_t sequence, int self) {
    int participants = numThreads;
    if (self >= participants)
      return;
    drainRange(sequence, self, self, /*fromBack=*/false);
    for (int i = 1; i < participants; ++i)
      drainRange(sequence, self, (self + i) % participants, /*fromBack=*/true);
  }

  /// Claims and runs chunks of job `sequence` from the shared counter.
  void workOnCounter(uint64_t sequence, int self) {
    while (true) {
      uint64_t seen = counter.load(std::memory_order_acquire);
      if ((seen >> kSequenceShift) != sequence)
        return;
      // The fields belong to `sequence`: they change only after all of its
      // items are done, and the claim below fails if that has happened.
      quantc_task_fn fn = job.fn.load(std::memory_order_acquire);
      void *context = job.context.load(std::memory_order_acquire);
      int64_t count = job.count.load(std::memory_order_acquire);
      int64_t grain = job.grain.load(std::memory_order_acquire);
      int64_t begin = static_cast<int64_t>(seen & kItemMask);
      if (begin >= count)
        return;
      int64_t end = std::min(begin + grain, count);
      if (!counter.compare_exchange_weak(
              seen, (sequence << kSequenceShift) | static_cast<uint64_t>(end),
              std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      fn(context, begin, end);
      slots[self].done.fetch_add(end - begin, std::memory_order_release);
    }
  }

  void startWorkers() {
    stop = false;
    uint64_t current = generation.load(std::memory_order_acquire);
    slots.reset(new Slot[numThreads]());
    for (int index = 1; index < numThreads; ++index)
      workers.emplace_back(
          [this, current, index] { workerLoop(index, current); });
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

  void workerLoop(int self, uint64_t seen) {
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
      uint64_t sequence =
          counter.load(std::memory_order_acquire) >> kSequenceShift;
      insideTask = true;
      workOn(sequence, self);
      insideTask = false;
    }
  }

  std::mutex submitMutex;
  int numThreads;
  uint64_t nextSequence = 1;
  Job job;
  std::atomic<uint64_t> counter{0};
  /// Per participant, each on its own cache lines (a claim or a count of
  /// one thread does not take the line from the other): its range word
  /// (packRange) and the items it has finished.
  struct Slot {
    alignas(64) std::atomic<uint64_t> range{0};
    alignas(64) std::atomic<int64_t> done{0};
  };
  std::unique_ptr<Slot[]> slots;
  int64_t doneItems() const {
    int64_t total = 0;
    for (int p = 0; p < numThreads; ++p)
      total += slots[p].done.load(std::memory_order_acquire);
    return total;
  }
  std::atomic<uint64_t> generation{0};
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
