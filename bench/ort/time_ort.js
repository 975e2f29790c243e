// Times ONNX Runtime (onnxruntime-node) on the MatMulNBits models of
// make_models.py, as quantc-bench-cpu times quantc's kernels: n = M rows,
// 1 and 2 intra-op threads, weights cache-resident (one session, reused) or
// streaming (a rotating set of sessions whose weights exceed the LLC).
//
//   node time_ort.js MODEL_DIR [--shapes 4096x4096,...] [--rows 1,8,32,512]
//                    [--threads 1,2] [--levels 0,4] [--copies 6]
//                    [--min-seconds 0.5]
//
// Prints one line per configuration: median and min microseconds per call,
// GB/s of weight bytes (4-bit codes + f32 scales), GOP/s (2 M N K / time).
// Session.run from Node adds its own call overhead; that is what users of
// onnxruntime-node pay as well.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = {
    dir: argv[0], shapes: '4096x4096,4096x14336,14336x4096', rows: '1,8,32,512',
    threads: '1,2', levels: '4,0', copies: 6, minSeconds: 0.5,
  };
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  return args;
}

async function timeConfig(sessions, m, k, n) {
  const a = new Float32Array(m * k);
  for (let i = 0; i < a.length; ++i) a[i] = Math.sin(i) * 0.5;
  const feeds = { A: new ort.Tensor('float32', a, [m, k]) };
  for (const s of sessions) await s.run(feeds); // warm-up, prepacking
  const times = [];
  let total = 0;
  let next = 0;
  while (total < 1e9 * Number(globalThis.minSeconds) || times.length < 10) {
    const start = process.hrtime.bigint();
    await sessions[next].run(feeds);
    const ns = Number(process.hrtime.bigint() - start);
    times.push(ns);
    total += ns;
    next = (next + 1) % sessions.length;
  }
  times.sort((x, y) => x - y);
  return { median: times[times.length >> 1] / 1e3, min: times[0] / 1e3 };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  globalThis.minSeconds = args.minSeconds;
  for (const shape of args.shapes.split(',')) {
    const [k, n] = shape.split('x').map(Number);
    const weightBytes = n * k / 2 + n * (k / 32) * 4;
    for (const level of args.levels.split(',').map(Number)) {
      for (const threads of args.threads.split(',').map(Number)) {
        for (const streaming of [false, true]) {
          const copies = streaming ? Number(args.copies) : 1;
          const sessions = [];
          for (let c = 0; c < copies; ++c) {
            const file = path.join(args.dir, `matmulnbits_K${k}_N${n}_b32_level${level}_${c}.onnx`);
            if (!fs.existsSync(file)) throw new Error(`missing ${file} (run make_models.py)`);
            sessions.push(await ort.InferenceSession.create(file, {
              intraOpNumThreads: threads, interOpNumThreads: 1,
              executionMode: 'sequential', graphOptimizationLevel: 'all',
            }));
          }
          for (const m of args.rows.split(',').map(Number)) {
            const t = await timeConfig(sessions, m, k, n);
            const gbs = weightBytes / (t.median * 1e-6) * 1e-9;
            const gops = 2 * m * n * k / (t.median * 1e-6) * 1e-9;
            console.log(`ort MatMulNBits int4 b32 level${level} K${k}xN${n} M${m} t${threads} ` +
                        `${streaming ? 'stream' : 'cache'}: median ${t.median.toFixed(1)} us ` +
                        `min ${t.min.toFixed(1)} us  ${gbs.toFixed(1)} GB/s  ${gops.toFixed(1)} GOP/s`);
          }
          for (const s of sessions) await s.release();
        }
      }
    }
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
