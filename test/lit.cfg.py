# -*- Python -*-
# The fast regression suite: lit + FileCheck on IR, numerics through quant-run
# and quant-tensor, and the GoogleTest unit tests (test/unit).
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "quantc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit-tools", "Inputs", "CMakeLists.txt", "README.md"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quantc_obj_root, "test")

llvm_config.use_default_substitutions()

# Python with numpy (Debian's interpreter; the one on PATH may lack numpy).
python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
config.substitutions.append(("%python", python))
config.substitutions.append(("%lit_tools", os.path.join(config.test_source_root, "lit-tools")))
# Compiled models (quant-compile -o model.so) are linked and tested with
# LLVM 22's clang, llvm-nm, llvm-readelf and llvm-objdump; %quantc_lib holds
# libQuantcModelRuntime.a for linking objects by hand.
for _tool in ["clang", "llvm-nm", "llvm-readelf", "llvm-objdump"]:
    config.substitutions.append(("%" + _tool, os.path.join(config.llvm_tools_dir, _tool)))
config.substitutions.append(("%quantc_lib", os.path.join(config.quantc_obj_root, "lib")))
config.substitutions.append(("%quantc_src", config.quantc_src_root))
# The Python package is built into <build>/python.
config.substitutions.append(("%quantc_pythonpath", os.path.join(config.quantc_obj_root, "python")))

llvm_config.with_environment("PATH", config.quantc_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = ["quant-opt", "quant-tensor", "quant-run", "quant-translate", "FileCheck", "not", "count"]
llvm_config.add_tool_substitutions(tools, [config.quantc_tools_dir, config.llvm_tools_dir])

# The ONNX backend test data (Debian's libonnx-testdata), for test/Import.
if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")

# A usable NVIDIA GPU: `nvidia-smi -L` lists one (REQUIRES: cuda-device).
try:
    import subprocess
    if shutil.which("nvidia-smi") and subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, timeout=30).returncode == 0:
        config.available_features.add("cuda-device")
except Exception:
    pass

if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", "/usr/local/cuda/bin/ptxas"))
else:
    lit_config.note("skipped: no CUDA toolkit (/usr/local/cuda/bin/ptxas): "
                    "the tests that assemble PTX (REQUIRES: ptxas) are UNSUPPORTED")

# x86 ISA levels this host runs, for tests of kernels generated for a level
# (qc-lower-cpu): cpu-x86-64-v3, cpu-x86-64-v4, cpu-x86-64-v4-vnni.
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()

_flags = _cpu_flags()
_levels = {
    "cpu-x86-64-v3": {"avx2", "fma", "bmi2", "f16c", "movbe"},
    "cpu-x86-64-v4": {"avx2", "fma", "bmi2", "f16c", "movbe", "avx512f",
                      "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}
_levels["cpu-x86-64-v4-vnni"] = _levels["cpu-x86-64-v4"] | {
    "avx512_vnni", "avx512_bf16", "avx512vbmi"}
for _feature, _needed in _levels.items():
    if _needed <= _flags:
        config.available_features.add(_feature)
