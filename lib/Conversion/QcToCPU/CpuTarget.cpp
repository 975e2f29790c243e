//===- CpuTarget.cpp - x86 ISA levels for the generated kernels -----------===//

#include "quantc/Conversion/QcToCPU.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

using namespace quantc::cpu;

std::optional<CpuTarget> CpuTarget::parse(llvm::StringRef name,
                                          std::string &error) {
  CpuTarget t;
  t.name = name.str();
  auto withV3 = [&] { t.avx2 = t.fma = t.f16c = true; };
  if (name == "x86-64") {
    t.cpu = "x86-64";
  } else if (name == "x86-64-v3") {
    t.cpu = "x86-64-v3";
    withV3();
  } else if (name == "x86-64-v4") {
    t.cpu = "x86-64-v4";
    withV3();
    t.avx512 = true;
  } else if (name == "x86-64-v4-vnni") {
    t.cpu = "x86-64-v4";
    withV3();
    t.avx512 = t.avx512vnni = t.avx512bf16 = t.avx512vbmi = true;
    t.features = {"+avx512vnni", "+avx512bf16", "+avx512vbmi"};
  } else if (name == "native") {
    t.cpu = llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
    auto has = [&](llvm::StringRef feature) {
      auto it = host.find(feature);
      return it != host.end() && it->second;
    };
    t.avx2 = has("avx2");
    t.fma = has("fma");
    t.f16c = has("f16c");
    t.avx512 = has("avx512f") && has("avx512bw") && has("avx512dq") &&
               has("avx512vl") && has("avx512cd");
    t.avx512vnni = t.avx512 && has("avx512vnni");
    t.avx512bf16 = t.avx512 && has("avx512bf16");
    t.avx512vbmi = t.avx512 && has("avx512vbmi");
    for (const auto &feature : host)
      if (feature.second)
        t.features.push_back("+" + feature.first().str());
    std::sort(t.features.begin(), t.features.end());
  } else {
    error = "unknown CPU target '" + name.str() +
            "' (known: x86-64, x86-64-v3, x86-64-v4, x86-64-v4-vnni, native)";
    return std::nullopt;
  }
  return t;
}
