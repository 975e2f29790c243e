//===- ThreadPool.h - The runtime's parallel-for ------------------*- C++ -*-===//
//
// Generated CPU kernels split their work with quantc_parallel_for: `count`
// independent items (column tiles of a matmul, rows of an activation
// quantization) are cut into one contiguous range per thread. A kernel's
// items never depend on how they are grouped, so results are bit-identical
// for any thread count.
//
// One process-wide pool, sized by quantc_set_num_threads, else the
// QUANTC_NUM_THREADS environment variable, else the CPUs this process may run
// on. The calling thread works as thread 0, so a pool of T threads starts
// T - 1 workers and never runs more than T threads. A parallel_for issued from
// inside a task, or while another thread's parallel_for is running, runs
// serially on the calling thread instead of oversubscribing the machine.
//
// Plain C symbols, so that JIT-compiled and AOT-compiled kernels link to them.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_THREADPOOL_H
#define QUANTC_RUNTIME_THREADPOOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Runs items [begin, end) of a parallel loop.
typedef void (*quantc_task_fn)(void *context, int64_t begin, int64_t end);

/// Calls `fn(context, begin, end)` on disjoint ranges covering [0, count),
/// one range per participating thread, and returns when all have finished.
void quantc_parallel_for(quantc_task_fn fn, void *context, int64_t count);

/// Sets the number of threads (the caller included); <= 0 restores the
/// default (QUANTC_NUM_THREADS, else the available CPUs).
void quantc_set_num_threads(int32_t threads);

/// The number of threads parallel_for uses (the caller included).
int32_t quantc_get_num_threads(void);

/// Scratch memory of generated kernels (prepared activations): 64-byte
/// aligned, released with quantc_kernel_free.
void *quantc_kernel_alloc(int64_t bytes);
void quantc_kernel_free(void *memory);

#ifdef __cplusplus
}
#endif

#endif // QUANTC_RUNTIME_THREADPOOL_H
