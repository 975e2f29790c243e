//===- OnnxOpRegistry.cpp - The table of ONNX op lowerings ----------------===//
//
// Built once from the families listed in OnnxOpFamilies.def.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxOpRegistry.h"

#include "llvm/Support/ErrorHandling.h"

#include <algorithm>

namespace quantc {

static std::string registryKey(llvm::StringRef domain, llvm::StringRef opType) {
  llvm::StringRef normalized = domain == "ai.onnx" ? "" : domain;
  return normalized.str() + "::" + opType.str();
}

void OnnxOpRegistry::add(llvm::StringRef opType, OnnxLowerFn lower,
                         OnnxFoldFn fold, int64_t minOpset, int64_t maxOpset) {
  addInDomain("", opType,
              OnnxOpLowering{std::move(lower), std::move(fold), minOpset,
                             maxOpset});
}

void OnnxOpRegistry::addInDomain(llvm::StringRef domain, llvm::StringRef opType,
                                 OnnxOpLowering lowering) {
  std::string key = registryKey(domain, opType);
  // Two families claiming one op is a programming error, caught the first
  // time any tool starts.
  if (!lowerings.try_emplace(key, std::move(lowering)).second)
    llvm::report_fatal_error(llvm::Twine("ONNX op ") + key +
                             " is registered twice");
}

const OnnxOpLowering *OnnxOpRegistry::lookup(llvm::StringRef domain,
                                             llvm::StringRef opType) const {
  auto it = lowerings.find(registryKey(domain, opType));
  return it == lowerings.end() ? nullptr : &it->second;
}

std::vector<std::string> OnnxOpRegistry::opTypes() const {
  std::vector<std::string> names;
  for (const auto &entry : lowerings)
    if (entry.getKey().starts_with("::"))
      names.push_back(entry.getKey().drop_front(2).str());
  std::sort(names.begin(), names.end());
  return names;
}

const OnnxOpRegistry &OnnxOpRegistry::get() {
  static const OnnxOpRegistry registry = [] {
    OnnxOpRegistry built;
#define QUANTC_ONNX_OP_FAMILY(Family) registerOnnx##Family##Ops(built);
#include "quantc/Import/OnnxOpFamilies.def"
#undef QUANTC_ONNX_OP_FAMILY
    return built;
  }();
  return registry;
}

} // namespace quantc
