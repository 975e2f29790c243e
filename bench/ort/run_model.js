// Runs an ONNX model with ONNX Runtime (onnxruntime-node): the float
// reference for quantc's real-model tests, and the peer in whole-model
// latency comparisons.
//
//   node run_model.js MODEL.onnx --inputs DIR [--outputs DIR] [--threads N]
//                     [--time RUNS]
//
// Inputs are DIR/<input name>.npy (float32, float64, int64, int32, bool);
// every graph output is written as DIR/<output name>.npy (float32 / int64 /
// bool as produced; ':' and '/' in names become '_'). With --time, prints
// "median_ms MIN_ms" of RUNS calls after 3 warm-up calls, with N intra-op
// threads (inter-op 1, sequential execution).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const DTYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|b1': ['bool', Uint8Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const kind = DTYPES[descr];
  if (!kind) throw new Error(`${file}: dtype ${descr} is not supported`);
  const dataStart = start + headerLen;
  const bytes = buf.subarray(dataStart);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const data = new kind[1](copy.buffer, 0, copy.length / kind[1].BYTES_PER_ELEMENT);
  return new ort.Tensor(kind[0], kind[0] === 'bool' ? Uint8Array.from(data) : data, shape);
}

function writeNpy(file, tensor) {
  const descr = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', bool: '|b1',
    uint8: '|u1', int8: '|i1' }[tensor.type];
  if (!descr) throw new Error(`output type ${tensor.type} is not supported`);
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const argv = process.argv.slice(2);
  const model = argv[0];
  const args = { threads: 1 };
  for (let i = 1; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(args.threads), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
  });
  const feeds = {};
  for (const name of session.inputNames) {
    const file = path.join(args.inputs, `${name}.npy`);
    if (!fs.existsSync(file)) throw new Error(`${file}: missing input '${name}'`);
    feeds[name] = readNpy(file);
  }
  const results = await session.run(feeds);
  if (args.outputs) {
    fs.mkdirSync(args.outputs, { recursive: true });
    for (const name of session.outputNames)
      writeNpy(path.join(args.outputs, `${name.replace(/[:/]/g, '_')}.npy`), results[name]);
  }
  if (args.time) {
    for (let i = 0; i < 3; ++i) await session.run(feeds);
    const times = [];
    for (let i = 0; i < Number(args.time); ++i) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`${times[times.length >> 1].toFixed(3)} ${times[0].toFixed(3)}`);
  }
}

main().catch((e) => { console.error(`run_model.js: ${e.message}`); process.exit(1); });
