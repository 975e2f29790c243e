//===- quant-opt.cpp - run qc passes and pipelines on .mlir files ---------===//
//
// mlir-opt with exactly the dialects and passes quantc uses, so every stage
// of the compiler can be run and lit-tested alone.
//
//===----------------------------------------------------------------------===//

#include "qc/QcDialect.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#ifdef QUANTC_HAVE_PIPELINES
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/Pipelines.h"
#endif

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::qc::QcDialect, mlir::arith::ArithDialect,
                  mlir::bufferization::BufferizationDialect,
                  mlir::func::FuncDialect, mlir::linalg::LinalgDialect,
                  mlir::math::MathDialect, mlir::memref::MemRefDialect,
                  mlir::scf::SCFDialect, mlir::tensor::TensorDialect,
                  mlir::vector::VectorDialect>();
#ifdef QUANTC_HAVE_PIPELINES
  quantc::registerQuantcDialects(registry);
  quantc::registerQuantcGpuDialects(registry);
  quantc::registerQuantcPipelines();
  quantc::registerQuantcGpuPipelines();
#endif
  mlir::registerTransformsPasses();
  mlir::qc::registerQcPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "quantc optimizer driver: qc passes and pipelines\n",
      registry));
}
