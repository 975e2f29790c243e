// quantc-pack-gpu-binaries turns each PTX object into a `bin` object holding
// a quantc CUDA image: magic QCCUDA01, u32 count, u32 0, then per entry
// chip[16], u32 kind (0 PTX, 1 cubin), u32 0, u64 offset, u64 size; here
// (ptxas=none) one PTX entry at offset 64 (16 + 40 rounded up to 16) of
// 12 bytes (the 11-byte text and its NUL), after 8 bytes of padding. Other objects stay as they are.
// RUN: quant-opt %s --quantc-pack-gpu-binaries=ptxas=none | FileCheck %s

// CHECK-LABEL: gpu.binary @kernels  [
// CHECK-SAME: #gpu.object<#nvvm.target<chip = "sm_90a">, bin = "QCCUDA01\01\00\00\00\00\00\00\00sm_90a\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00@\00\00\00\00\00\00\00\0C\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00.target x;\0A\00">,
// CHECK-SAME: #gpu.object<#nvvm.target<chip = "sm_80">, bin = "cubin">]
module attributes {gpu.container_module} {
  gpu.binary @kernels [#gpu.object<#nvvm.target<chip = "sm_90a">, assembly = ".target x;\0A">,
                       #gpu.object<#nvvm.target<chip = "sm_80">, bin = "cubin">]
}
