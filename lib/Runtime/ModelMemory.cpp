//===- ModelMemory.cpp - Buffers of a compiled model's runs ---------------===//
//
// A compiled model allocates its intermediate tensors on every run and frees
// them at the end. Large blocks come from glibc through mmap and go back to
// the kernel on free, so every run would page-fault its buffers in again
// (BlazeFace: a third of the run time). The AOT writer points the model's
// malloc / calloc / aligned_alloc / free at these functions instead, which
// keep the large blocks of recent runs per thread and hand them out again
// for requests of the same size and alignment; the next run then reuses warm
// memory. Small blocks go straight to the C library. Part of
// QuantcModelRuntime; the JIT keeps calling the C library.
//
//===----------------------------------------------------------------------===//

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

/// Blocks below this size are not worth keeping: glibc serves them from its
/// heap without faulting in fresh pages.
constexpr size_t kSmallestKeptBlock = 64 * 1024;
/// At most this many blocks and bytes are kept per thread.
constexpr int kMaxKeptBlocks = 256;
constexpr size_t kMaxKeptBytes = size_t(512) << 20;

/// Stored right before every block this allocator hands out.
struct BlockHeader {
  void *raw;        // what malloc returned
  size_t size;      // the size that was asked for
  size_t alignment; // the alignment that was asked for (>= 16)
  size_t reserved;
};
static_assert(sizeof(BlockHeader) == 32, "headers keep 32-byte alignment");

BlockHeader *headerOf(void *block) {
  return reinterpret_cast<BlockHeader *>(block) - 1;
}

/// The large blocks freed on this thread, most recent last.
struct KeptBlocks {
  void *blocks[kMaxKeptBlocks];
  int count = 0;
  size_t bytes = 0;

  ~KeptBlocks() {
    for (int index = 0; index < count; ++index)
      std::free(headerOf(blocks[index])->raw);
  }

  void *take(size_t size, size_t alignment) {
    for (int index = count; index-- > 0;) {
      BlockHeader *header = headerOf(blocks[index]);
      if (header->size != size || header->alignment != alignment)
        continue;
      void *block = blocks[index];
      blocks[index] = blocks[--count];
      bytes -= size;
      return block;
    }
    return nullptr;
  }

  /// Keeps `block` if there is room; false if the caller must release it.
  bool keep(void *block) {
    size_t size = headerOf(block)->size;
    if (count == kMaxKeptBlocks || bytes + size > kMaxKeptBytes)
      return false;
    blocks[count++] = block;
    bytes += size;
    return true;
  }
};

thread_local KeptBlocks keptBlocks;

void *allocate(size_t size, size_t alignment, bool zero) {
  if (alignment < 16)
    alignment = 16;
  if (size >= kSmallestKeptBlock)
    if (void *block = keptBlocks.take(size, alignment)) {
      if (zero)
        std::memset(block, 0, size);
      return block;
    }
  size_t padding = alignment > sizeof(BlockHeader) ? alignment
                                                    : sizeof(BlockHeader);
  void *raw = zero ? std::calloc(1, size + padding) : std::malloc(size + padding);
  if (!raw)
    return nullptr;
  // The block starts at the first multiple of `alignment` that leaves room
  // for the header.
  uintptr_t start = reinterpret_cast<uintptr_t>(raw) + sizeof(BlockHeader);
  start = (start + alignment - 1) / alignment * alignment;
  void *block = reinterpret_cast<void *>(start);
  *headerOf(block) = BlockHeader{raw, size, alignment, 0};
  return block;
}

} // namespace

extern "C" {

void *quantc_model_buffer_malloc(size_t size) {
  return allocate(size, 16, /*zero=*/false);
}

void *quantc_model_buffer_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size)
    return nullptr;
  return allocate(count * size, 16, /*zero=*/true);
}

void *quantc_model_buffer_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)))
    return nullptr;
  return allocate(size, alignment, /*zero=*/false);
}

void quantc_model_buffer_free(void *block) {
  if (!block)
    return;
  BlockHeader *header = headerOf(block);
  if (header->size >= kSmallestKeptBlock && keptBlocks.keep(block))
    return;
  std::free(header->raw);
}

} // extern "C"
