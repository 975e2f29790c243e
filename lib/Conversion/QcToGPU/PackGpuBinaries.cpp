//===- PackGpuBinaries.cpp - quantc-pack-gpu-binaries ---------------------===//
//
// Turns each PTX object of a gpu.binary (gpu-module-to-binary format=isa)
// into a quantc CUDA image (quantc/Runtime/CudaDriver.h, kCudaImageMagic):
// the PTX, and a cubin for the object's chip when ptxas is available. The
// object becomes a `bin` object, so the host loads it with
// mgpuModuleLoad(data, size), and the runtime picks the cubin when it runs
// on the device or JIT-compiles the PTX otherwise. This is what compiled
// libraries (quant-compile --target cuda:...) carry: code that starts fast
// on the chip it was made for and still runs where only the PTX fits.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Runtime/CudaDriver.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <cstring>

namespace quantc {
#define GEN_PASS_DEF_PACKGPUBINARIES
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

/// The ptxas to use: the option, else $QUANTC_PTXAS, the CUDA toolkit's, or
/// one on PATH; empty for none ("none", as option or variable, disables
/// cubins).
std::string findPtxas(StringRef option) {
  if (option.empty())
    if (const char *env = std::getenv("QUANTC_PTXAS"))
      option = env;
  if (option == "none")
    return "";
  if (!option.empty())
    return option.str();
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return "";
}

/// Assembles `ptx` for `chip` with ptxas into `cubin`; false with the
/// assembler's log in `error`.
bool assemble(const std::string &ptxas, StringRef chip, StringRef ptx,
              std::string &cubin, std::string &error) {
  llvm::SmallString<128> ptxPath, cubinPath, logPath;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("quantc-kernels", "ptx", fd, ptxPath) ||
      llvm::sys::fs::createTemporaryFile("quantc-kernels", "cubin",
                                         cubinPath) ||
      llvm::sys::fs::createTemporaryFile("quantc-ptxas", "log", logPath)) {
    error = "cannot create temporary files for ptxas";
    return false;
  }
  llvm::FileRemover removePtx(ptxPath), removeCubin(cubinPath),
      removeLog(logPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << ptx;
  }
  std::string arch = "-arch=" + chip.str();
  SmallVector<StringRef> arguments = {ptxas, arch, "-O3", ptxPath, "-o",
                                      cubinPath};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string executeError;
  int status = llvm::sys::ExecuteAndWait(ptxas, arguments, std::nullopt,
                                         redirects, 0, 0, &executeError);
  if (status != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = StringRef((*buffer)->getBuffer()).trim().str();
    error = ptxas + " " + arch + " failed: " +
            (log.empty() ? executeError : log);
    return false;
  }
  auto buffer = llvm::MemoryBuffer::getFile(cubinPath);
  if (!buffer) {
    error = ptxas + " wrote no cubin";
    return false;
  }
  cubin = (*buffer)->getBuffer().str();
  return true;
}

/// The image of kCudaImageMagic holding `ptx` (and `cubin` if not empty).
std::string buildImage(StringRef chip, StringRef ptx, StringRef cubin) {
  using namespace quantc::cuda;
  struct Payload {
    uint32_t kind;
    std::string bytes;
  };
  SmallVector<Payload> payloads;
  if (!cubin.empty())
    payloads.push_back({kCudaImageCubin, cubin.str()});
  std::string text = ptx.str();
  if (text.empty() || text.back() != '\0')
    text.push_back('\0');
  payloads.push_back({kCudaImagePtx, text});

  std::string image(kCudaImageMagic, sizeof(kCudaImageMagic));
  auto append = [&](const void *data, size_t size) {
    image.append(static_cast<const char *>(data), size);
  };
  uint32_t count = payloads.size(), zero = 0;
  append(&count, 4);
  append(&zero, 4);
  uint64_t offset = 16 + payloads.size() * sizeof(CudaImageEntry);
  for (const Payload &payload : payloads) {
    offset = (offset + 15) / 16 * 16;
    CudaImageEntry entry{};
    std::strncpy(entry.chip, chip.str().c_str(), sizeof(entry.chip) - 1);
    entry.kind = payload.kind;
    entry.offset = offset;
    entry.size = payload.bytes.size();
    append(&entry, sizeof(entry));
    offset += payload.bytes.size();
  }
  for (const Payload &payload : payloads) {
    image.resize((image.size() + 15) / 16 * 16, '\0');
    image += payload.bytes;
  }
  return image;
}

struct PackGpuBinariesPass
    : quantc::impl::PackGpuBinariesBase<PackGpuBinariesPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string assembler = findPtxas(ptxas);
    WalkResult result = getOperation().walk([&](mlir::gpu::BinaryOp binary) {
      SmallVector<Attribute> objects;
      for (Attribute attr : binary.getObjects()) {
        auto object = cast<mlir::gpu::ObjectAttr>(attr);
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
        if (!target ||
            object.getFormat() != mlir::gpu::CompilationTarget::Assembly) {
          objects.push_back(object);
          continue;
        }
        StringRef chip = target.getChip();
        StringRef ptx = object.getObject().getValue();
        std::string cubin, error;
        if (!assembler.empty() && !assemble(assembler, chip, ptx, cubin, error)) {
          binary.emitError() << "quantc-pack-gpu-binaries: " << error;
          return WalkResult::interrupt();
        }
        objects.push_back(mlir::gpu::ObjectAttr::get(
            &getContext(), target, mlir::gpu::CompilationTarget::Binary,
            StringAttr::get(&getContext(), buildImage(chip, ptx, cubin)),
            object.getProperties(), object.getKernels()));
      }
      binary.setObjectsAttr(ArrayAttr::get(&getContext(), objects));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
