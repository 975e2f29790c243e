#!/usr/bin/env python3
"""Runs a tensor-core GEMM kernel of qc-lower-gpu on the host.

usage: emulate_block_scale_gemm.py IR KERNEL X_BYTES W_BYTES Y_OUT
           [X_REF W_REF TOLERANCE]

Kernels that take float activations (the sm_80 mma.sync GEMM qc_mma_gemm*)
take X_BYTES as a float .npy (converted to the kernel's f32 / f16 / bf16
input, bf16 by truncation: give bf16-exact values) instead of packed bytes.

IR is quant-opt's output after --qc-lower-gpu=chip=sm_120a --canonicalize
--cse --mlir-print-op-generic; KERNEL the gpu.func (qc_block_scale_gemm*,
qc_mma_block_scale*); X_BYTES / W_BYTES .npy uint8 arrays of the packed
activations and weights (canonical layout, e.g. quant-tensor pack); Y_OUT
the .npy y the kernel stores (f32). With X_REF / W_REF (the dequantized
operands, e.g. quant-tensor fake-quant) it prints the largest
|y - X_REF W_REF^T| / (|X_REF| |W_REF|^T) and exits 1 above TOLERANCE or if
any y was not stored.

The kernel's IR is interpreted CTA by CTA with all threads of a CTA in lock
step (its control flow is uniform except for the bounds checks around the
stores, which run masked). The warp-collective and asynchronous NVVM ops are
emulated from the PTX ISA's definitions, independently of how the kernel
generator uses them:

  cp.async (9.7.9.25): copies land at cp.async.wait_group, not before (a
    read of a ring slot before its group is waited for sees stale bytes).
  ldmatrix (9.7.14.5.15): lanes 8q .. 8q + 7 give the row addresses of
    matrix q; lane l receives row l / 4, 4 bytes at 4 (l % 4) (.m8n8 .b16),
    or (.m8n16 .b8x16.b4x16_p64 / .b6x16_p32) codes 4 (l % 4) .. +3 of the 16
    4-/6-bit codes (an LSB-first bit stream) at the row address, one per
    byte in its low bits.
  mma.sync block_scale (9.7.14.5.10/11 fragments, 9.7.14.3 scales):
    m16n8k32 (8-bit containers: FP8 whole, FP6 bits 0-5, E2M1 bits 2-5; set
    padding bits are an error) and m16n8k64 (packed E2M1); scale_A of row r
    from lane 4 (r % 8) + r / 8 (thread-id 0: lanes with l % 4 in {0, 1},
    row l / 4 + 8 (l % 2)), scale_B of column c from lane 4 c, byte-id 0,
    the k chunks' scales in consecutive bytes. Products are exact; the sum
    is rounded to f32 once per MMA.
  wgmma.mma_async m64nNk16 f32.bf16.bf16, A and B K-major from shared
    memory descriptors without swizzle (9.7.15.5.1): start address, LBO
    (next 8 x 16-byte core matrix along K) and SBO (next 8 rows) in 16-byte
    units; warpgroup g's accumulator register 4i + r of lane l (warp w) is
    D[16w + l / 4 + 8 (r >= 2)][8i + 2 (l % 4) + r % 2]. The sum plus D is
    rounded to f32 once per wgmma; the operand bytes must not change
    between the wgmma and its wgmma.wait_group (an error otherwise).
  mma.sync m16n8k16 .row.col f32.f16.f16.f32 (9.7.14.5.8): with g = lane
    / 4, t = lane % 4, A register r holds A[g + 8 (r % 2)][2t + 8 (r / 2)
    + {0, 1}], B register r holds B[2t + 8 r + {0, 1}][g], D element i is
    D[g + 8 (i / 2)][2t + i % 2]. f16 products are exact; the sum plus C is
    rounded to f32 once per MMA.

Typed vector.load / vector.store address their memref row-major from its
static shape (memref.view shifts a buffer's base), so the f16 tiles of the
workgroup attributions and the raw ring slots of dynamic shared memory are
plain bytes, as on the device.
"""

import re
import sys

import numpy as np

SHARED_BASE = 1 << 20
SHARED_SIZE = 1 << 18
WORKGROUP_BASE = SHARED_BASE + (1 << 17)  # static workgroup attributions
ELEMENT = {'f32': (np.float32, 4), 'f16': (np.float16, 2), 'bf16': (None, 2),
           'i8': (np.uint8, 1), 'i32': (np.uint32, 4), 'i16': (np.uint16, 2)}


def memref_layout(text):
    """Shape and element type of the first memref<...> in text."""
    m = re.search(r'memref<([^,>]*)', text)
    parts = m.group(1).split('x')
    return [int(d) if d != '?' else 0 for d in parts[:-1]], parts[-1].strip()


def to_bytes(values, element):
    """values (count, threads) -> (threads, count * size) bytes."""
    dtype, size = ELEMENT[element]
    values = np.asarray(values)
    if element == 'bf16':
        bits = values.astype(np.float32).view(np.uint32) >> 16
        raw = bits.astype(np.uint16)
    elif dtype in (np.float32, np.float16):
        raw = values.astype(dtype)
    else:
        raw = (values.astype(np.int64) & ((1 << (8 * size)) - 1)).astype(dtype)
    return np.ascontiguousarray(raw.T).view(np.uint8)


def from_bytes(raw, element, count):
    """(threads, count * size) bytes -> values (count, threads)."""
    dtype, size = ELEMENT[element]
    raw = np.ascontiguousarray(raw)
    if element == 'bf16':
        values = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        values = raw.view(dtype)
    values = values.astype(np.float64 if element[0] in 'fb' else np.int64)
    return values.reshape(len(raw), count).T
GLOBAL_BASES = [1 << 32, 2 << 32]

OP_RE = re.compile(r'^\s*(?:(%[\w#]+)(?::(\d+))?\s*=\s*)?"([\w.]+)"\((.*?)\)(.*)$')


class Op:
    def __init__(self, results, name, operands, rest):
        self.results = results
        self.name = name
        self.operands = operands
        self.rest = rest
        self.regions = []  # list of (block args, ops)

    def prop(self, key):
        m = re.search(r'\b' + key + r' = ([^,>}]+(?:<[^>]*>)?)', self.rest)
        return m.group(1) if m else None

    def result_type(self):
        return self.rest.rsplit('->', 1)[-1].strip()


def parse_ops(lines, i):
    """Parses ops from lines[i] up to the closing '})' or '}, {' of a region."""
    ops = []
    args = []
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith('}'):
            return args, ops, i
        if s.startswith('^bb'):
            args = re.findall(r'(%[\w]+):', s)
            i += 1
            continue
        m = OP_RE.match(line)
        if not m:
            raise SystemExit('cannot parse: ' + line)
        name_result, count, name, operands, rest = m.groups()
        results = []
        if name_result:
            results = ([name_result] if count is None else
                       ['%s#%d' % (name_result, k) for k in range(int(count))])
        op = Op(results, name, re.findall(r'%[\w#]+', operands), rest)
        i += 1
        if rest.strip().startswith('({'):
            while True:
                bargs, body, i = parse_ops(lines, i)
                op.regions.append((bargs, body))
                closing = lines[i].strip()
                i += 1
                if closing.startswith('}, {'):
                    continue
                op.rest = closing  # '}) : types'
                break
        ops.append(op)
    return args, ops, i


def find_kernel(text, name):
    lines = text.splitlines()
    end = next(k for k, l in enumerate(lines)
               if 'sym_name = "%s"' % name in l and '"gpu.func"' not in l)
    start = max(k for k in range(end) if '"gpu.func"' in lines[k])
    header = lines[start]
    grid = [int(v) for v in re.search(r'known_grid_size = array<i32: ([\d, ]+)>',
                                      header).group(1).split(',')]
    block = [int(v) for v in re.search(r'known_block_size = array<i32: ([\d, ]+)>',
                                       header).group(1).split(',')]
    types = re.search(r'function_type = \((.*?)\) ->', header).group(1)
    memrefs = re.findall(r'memref<([^>]*)>', types)
    # Workgroup attributions follow the arguments in the entry block.
    memrefs += re.findall(r': memref<([^>]*)>', lines[start + 1])[len(memrefs):]
    args, ops, _ = parse_ops(lines, start + 1)
    return grid, block, memrefs, args, ops


# ---- element and scale decoding (OCP definitions) ----

def minifloat(code, e_bits, m_bits, bias, nan_codes=()):
    sign = -1.0 if code >> (e_bits + m_bits) & 1 else 1.0
    e = code >> m_bits & ((1 << e_bits) - 1)
    m = code & ((1 << m_bits) - 1)
    magnitude = code & ((1 << (e_bits + m_bits)) - 1)
    if magnitude in nan_codes:
        return float('nan')
    if e == 0:
        return sign * m / (1 << m_bits) * 2.0 ** (1 - bias)
    return sign * (1 + m / (1 << m_bits)) * 2.0 ** (e - bias)


def table(e_bits, m_bits, bias, nan_codes=(), inf=False):
    n = 1 << (1 + e_bits + m_bits)
    values = np.array([minifloat(c, e_bits, m_bits, bias, nan_codes) for c in range(n)])
    if inf:  # E5M2: IEEE infinities and NaNs
        for c in range(n):
            if c & 0x7C == 0x7C:
                values[c] = float('nan') if c & 3 else (-np.inf if c & 0x80 else np.inf)
    return values


DECODE = {
    'e4m3': (table(4, 3, 7, nan_codes=(0x7F,)), 0x00),
    'e5m2': (table(5, 2, 15, inf=True), 0x00),
    'e3m2': (table(3, 2, 3), 0xC0),  # padding bits that must be zero
    'e2m3': (table(2, 3, 1), 0xC0),
    'e2m1': (table(2, 1, 1), 0xC3),
}
E2M1_PACKED = table(2, 1, 1)
UE4M3 = table(4, 3, 7, nan_codes=(0x7F,))[:128]


def decode_container(byte, kind):
    values, padding = DECODE[kind]
    if byte & padding:
        raise SystemExit('%s container 0x%02x has padding bits set' % (kind, byte))
    if kind == 'e2m1':
        byte >>= 2
    return values[byte]


def decode_scale(byte, fmt):
    if fmt == 'ue8m0':
        return float('nan') if byte == 0xFF else 2.0 ** (byte - 127)
    if byte & 0x80:
        raise SystemExit('ue4m3 scale 0x%02x has its sign bit set' % byte)
    return UE4M3[byte]


class Cta:
    def __init__(self, threads, memrefs, buffers, y, block_id):
        self.t = threads
        self.memrefs = memrefs
        self.buffers = buffers  # base -> uint8 array
        self.shared = np.zeros(SHARED_SIZE, dtype=np.uint8)
        self.y = y
        self.block_id = block_id
        self.groups = []  # committed cp.async groups, oldest first
        self.pending = []  # copies not yet committed
        # wgmma operands (addresses, bytes at issue) by commit group: they
        # must not change before the group's wait.
        self.wgmma_groups = []
        self.wgmma_pending = []
        self.env = {}

    # memory
    def region(self, address):
        if SHARED_BASE <= address < SHARED_BASE + SHARED_SIZE:
            return self.shared, address - SHARED_BASE
        for base, buffer in self.buffers.items():
            if base <= address < base + len(buffer):
                return buffer, address - base
        raise SystemExit('address 0x%x outside every buffer' % address)

    def read(self, address, count):
        memory, offset = self.region(int(address))
        if offset + count > len(memory):
            raise SystemExit('read past the end of a buffer')
        return memory[offset:offset + count]

    def write(self, address, data):
        memory, offset = self.region(int(address))
        if memory is not self.shared:
            raise SystemExit('cp.async into global memory')
        memory[offset:offset + len(data)] = data

    def gather(self, addresses, count):
        """count bytes at each thread's address -> (threads, count)."""
        addresses = np.asarray(addresses, dtype=np.int64)
        memory, offset = self.region(int(addresses.min()))
        offsets = addresses - (int(addresses.min()) - offset)
        if offsets.max() + count > len(memory):
            raise SystemExit('read past the end of a buffer')
        return memory[offsets[:, None] + np.arange(count)]

    def scatter(self, addresses, data, mask):
        addresses = np.asarray(addresses, dtype=np.int64)
        keep = np.ones(self.t, bool) if mask is None else mask
        if not keep.any():
            return
        memory, offset = self.region(int(addresses[keep].min()))
        if memory is not self.shared:
            raise SystemExit('vector.store outside shared memory')
        offsets = addresses[keep] - (int(addresses[keep].min()) - offset)
        if offsets.max() + data.shape[1] > len(memory):
            raise SystemExit('write past the end of shared memory')
        memory[offsets[:, None] + np.arange(data.shape[1])] = data[keep]

    def address(self, op, memref, indices):
        """Byte address of memref[indices] (row-major, static shape)."""
        shape, element = memref_layout(op.rest)
        linear = np.zeros(self.t, dtype=np.int64)
        for d, i in enumerate(indices):
            linear = linear * (shape[d] if d else 1) + np.asarray(i, dtype=np.int64)
        return memref[1] + linear * ELEMENT[element][1], element

    def value(self, name):
        return self.env[name]

    def run(self, ops, mask=None):
        for op in ops:
            self.step(op, mask)

    def step(self, op, mask):
        n = op.name
        v = [self.env.get(o) for o in op.operands]
        rtype = op.result_type()
        bits = 32 if rtype == 'i32' else 16 if rtype == 'i16' else 64
        wrap = (lambda a: a & ((1 << bits) - 1)) if rtype in ('i32', 'i16') else (lambda a: a)
        out = None
        if n == 'arith.constant':
            number, value_type = re.search(r'value = (.*?) : ([^}]*)\}', op.rest).groups()
            if number.startswith('dense<'):
                number = number[len('dense<'):].rstrip('>')
            is_float = re.search(r'(^|x)b?f\d+>?$', value_type.strip()) is not None
            if number in ('true', 'false'):
                out = int(number == 'true')
            elif is_float and number.startswith('0x'):  # f32 bit pattern
                out = float(np.array(int(number, 16), dtype=np.uint32).view(np.float32))
            else:
                out = float(number) if is_float else int(number)
            out = np.full(self.t, out)
        elif n == 'arith.addi':
            out = wrap(v[0] + v[1])
        elif n == 'arith.subi':
            out = wrap(v[0] - v[1])
        elif n == 'arith.subf':
            out = (v[0].astype(np.float32) - v[1].astype(np.float32)).astype(np.float64)
        elif n == 'arith.addf':
            out = (v[0].astype(np.float32) + v[1].astype(np.float32)).astype(np.float64)
        elif n == 'arith.negf':
            out = -v[0]
        elif n in ('arith.sitofp', 'arith.uitofp'):
            src = re.search(r':\s*\((\w+)\)', op.rest).group(1)
            value = np.asarray(v[0], dtype=np.int64)
            if n == 'arith.sitofp' and src.startswith('i'):
                width = int(src[1:])
                value = np.where(value >= 1 << (width - 1), value - (1 << width), value)
            out = value.astype(np.float32).astype(np.float64)
        elif n == 'arith.extf':
            out = v[0]
        elif n == 'arith.trunci':
            out = v[0] & ((1 << int(rtype[1:])) - 1)
        elif n == 'vector.from_elements':
            out = np.stack([np.asarray(a) for a in v])
        elif n == 'memref.view':
            out = ('memref', v[0][1] + int(v[1][0]))
        elif n == 'vector.store':
            count = int(re.search(r'vector<(\d+)x', op.rest).group(1))
            types = op.rest.split(':', 1)[1]
            address, element = self.address(Op([], n, [], types.split(',', 1)[1]), v[1], v[2:])
            data = np.broadcast_to(np.asarray(v[0]), (count, self.t))
            self.scatter(address, to_bytes(data, element), mask)
        elif n == 'arith.muli':
            out = wrap(v[0] * v[1])
        elif n == 'arith.divui':
            out = v[0] // v[1]
        elif n == 'arith.remui':
            out = v[0] % v[1]
        elif n == 'arith.minui':
            out = np.minimum(v[0], v[1])
        elif n == 'arith.xori':
            out = v[0] ^ v[1]
        elif n == 'arith.andi':
            out = v[0] & v[1]
        elif n == 'arith.ori':
            out = v[0] | v[1]
        elif n == 'arith.shrui':
            out = v[0] >> v[1]
        elif n == 'arith.shli':
            out = wrap(v[0] << v[1])
        elif n in ('arith.index_castui', 'arith.extui', 'llvm.inttoptr',
                   'llvm.addrspacecast'):
            out = v[0]
        elif n == 'arith.cmpi':
            predicate = int(op.prop('predicate').split(':')[0])
            out = {6: v[0] < v[1], 7: v[0] <= v[1], 8: v[0] > v[1],
                   9: v[0] >= v[1], 0: v[0] == v[1], 1: v[0] != v[1]}[predicate]
        elif n == 'arith.select':
            out = np.where(v[0], v[1], v[2])
        elif n == 'arith.bitcast':
            if rtype == 'f32':
                out = np.array(v[0], dtype=np.uint32).view(np.float32).astype(np.float64)
            elif rtype == 'i32':
                out = np.array(v[0], dtype=np.float32).view(np.uint32).astype(np.int64)
            else:
                raise SystemExit('no emulation of bitcast to ' + rtype)
        elif n == 'arith.mulf':
            out = (np.float32(1) * v[0].astype(np.float32) * v[1].astype(np.float32)).astype(np.float64)
        elif n == 'arith.truncf':
            element = re.search(r'(b?f\d+)>?$', rtype).group(1)
            if element == 'bf16':  # round to nearest, ties to even
                bits = np.asarray(v[0]).astype(np.float32).view(np.uint32).astype(np.uint64)
                bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
                out = bits.astype(np.uint32).view(np.float32).astype(np.float64)
            else:
                out = np.asarray(v[0]).astype({'f16': np.float16, 'f32': np.float32}[element]).astype(np.float64)
        elif n == 'gpu.thread_id':
            out = np.arange(self.t)
        elif n == 'gpu.block_id':
            axis = 'xyz'.index(re.search(r'dim (\w)', op.rest).group(1))
            out = np.full(self.t, self.block_id[axis])
        elif n == 'gpu.dynamic_shared_memory':
            out = ('memref', SHARED_BASE)
        elif n == 'memref.extract_aligned_pointer_as_index':
            out = np.full(self.t, v[0][1])
        elif n == 'llvm.getelementptr':
            index = re.search(r'rawConstantIndices = array<i32: (-?\d+)>', op.rest).group(1)
            out = v[0] + (v[1] if int(index) == -2147483648 else int(index))
        elif n == 'llvm.extractvalue':
            out = v[0][int(re.search(r'position = array<i64: (\d+)>', op.rest).group(1))]
        elif n == 'llvm.load':
            out = np.array([int.from_bytes(self.read(a, 4).tobytes(), 'little')
                            for a in v[0]])
        elif n == 'vector.load':
            count = int(re.search(r'vector<(\d+)x', rtype).group(1))
            address, element = self.address(op, v[0], v[1:])
            out = from_bytes(self.gather(address, count * ELEMENT[element][1]), element, count)
        elif n == 'memref.load':
            out = np.array([self.read(v[0][1] + i, 1)[0] for i in v[1]]).astype(np.int64)
        elif n == 'vector.bitcast':
            source = re.search(r'\(vector<(\d+)x(\w+)>\)', op.rest).groups()
            count, element = re.search(r'vector<(\d+)x(\w+)>$', rtype).groups()
            raw = to_bytes(np.asarray(v[0]), source[1])
            out = from_bytes(raw, element, int(count))
        elif n == 'vector.extract':
            position = re.search(r'static_position = array<i64: (\d+)>', op.rest)
            out = v[0][int(position.group(1)) if position else 0]
        elif n == 'memref.store':
            value, memref, row, col = v
            keep = np.ones(self.t, bool) if mask is None else mask
            for i in np.nonzero(keep)[0]:
                self.y[row[i], col[i]] = value[i]
        elif n == 'nvvm.cp.async.shared.global':
            size = int(op.prop('size').split(':')[0])
            keep = np.ones(self.t, bool) if mask is None else mask
            self.pending.append((v[0][keep], v[1][keep], size))
        elif n == 'nvvm.cp.async.commit.group':
            self.groups.append(self.pending)
            self.pending = []
        elif n == 'nvvm.cp.async.wait.group':
            keep = int(re.search(r'n = (\d+)', op.rest).group(1))
            while len(self.groups) > keep:
                for destination, source, size in self.groups.pop(0):
                    for d, s in zip(destination, source):
                        self.write(d, self.read(s, size))
        elif n == 'nvvm.ldmatrix':
            out = self.ldmatrix(op, v[0])
        elif n == 'nvvm.mma.block_scale':
            out = self.mma(op, v)
        elif n == 'nvvm.mma.sync':
            out = self.mma_f16(op, v)
        elif n == 'llvm.mlir.undef':
            out = [np.zeros(self.t) for _ in range(rtype.count('f32'))]
        elif n == 'llvm.insertvalue':
            out = list(v[0])
            out[int(re.search(r'position = array<i64: (\d+)>', op.rest).group(1))] = v[1]
        elif n == 'nvvm.wgmma.mma_async':
            out = self.wgmma(op, v)
        elif n == 'nvvm.wgmma.commit.group.sync.aligned':
            self.wgmma_groups.append(self.wgmma_pending)
            self.wgmma_pending = []
        elif n == 'nvvm.wgmma.wait.group.sync.aligned':
            keep = int(re.search(r'group = (\d+)', op.rest).group(1))
            while len(self.wgmma_groups) > keep:
                for addresses, snapshot in self.wgmma_groups.pop(0):
                    if not np.array_equal(self.gather(addresses, 2), snapshot):
                        raise SystemExit('shared memory read by a wgmma changed before its wait_group')
        elif n in ('nvvm.fence.proxy', 'nvvm.wgmma.fence.aligned'):
            pass
        elif n in ('gpu.barrier', 'scf.yield', 'gpu.return'):
            pass
        elif n == 'scf.for':
            lb, ub, step = v[0][0], v[1][0], v[2][0]
            carried = v[3:]
            args, body = op.regions[0]
            for iv in range(lb, ub, step):
                self.env[args[0]] = np.full(self.t, iv)
                for a, c in zip(args[1:], carried):
                    self.env[a] = c
                self.run(body[:-1], mask)
                carried = [self.env[o] for o in body[-1].operands]
            for r, c in zip(op.results, carried):
                self.env[r] = c
            return
        elif n == 'scf.if':
            if op.results:
                raise SystemExit('scf.if with results')
            cond = v[0].astype(bool) & (True if mask is None else mask)
            if cond.any():
                self.run(op.regions[0][1], cond)
            return
        else:
            raise SystemExit('no emulation of ' + n)
        if op.results:
            self.env[op.results[0]] = out

    def ldmatrix(self, op, addresses):
        fmt = re.search(r'ld_st_matrix_elt_type<([\w.]+)>', op.rest).group(1)
        num = int(op.prop('num').split(':')[0])
        regs = [np.zeros(self.t, dtype=np.int64) for _ in range(num)]
        for warp in range(self.t // 32):
            for lane in range(32):
                for q in range(num):
                    address = addresses[warp * 32 + 8 * q + lane // 4]
                    if fmt == 'b16':
                        word = self.read(address + 4 * (lane % 4), 4)
                    else:
                        codes = 16
                        width = 4 if fmt.endswith('b4x16_p64') else 6
                        stream = int.from_bytes(self.read(address, codes * width // 8).tobytes(), 'little')
                        word = [(stream >> (width * (4 * (lane % 4) + e))) & ((1 << width) - 1)
                                for e in range(4)]
                    regs[q][warp * 32 + lane] = int.from_bytes(bytes(word), 'little')
        return regs

    def mma_f16(self, op, v):
        if ('shape<m = 16, n = 8, k = 16>' not in op.rest or
                op.rest.count('mma_type<f16>') != 2 or 'mma_layout<row>' not in op.rest):
            raise SystemExit('mma.sync other than m16n8k16 row.col f16')
        warps = self.t // 32
        lane = np.arange(32)
        g, t = lane // 4, lane % 4
        a = np.zeros((warps, 16, 16))
        b = np.zeros((warps, 16, 8))
        for r in range(4):
            rows, cols = g + 8 * (r % 2), 2 * t + 8 * (r // 2)
            for e in range(2):
                a[:, rows, cols + e] = np.asarray(v[r])[e].reshape(warps, 32)
        for r in range(2):
            for e in range(2):
                b[:, 2 * t + 8 * r + e, g] = np.asarray(v[4 + r])[e].reshape(warps, 32)
        with np.errstate(invalid='ignore'):
            product = a @ b
        d = []
        for i in range(4):
            p = product[:, g + 8 * (i // 2), 2 * t + i % 2]
            c = np.asarray(v[6 + i], dtype=np.float64).reshape(warps, 32)
            d.append((p + c).astype(np.float32).astype(np.float64).reshape(self.t))
        return d

    def wgmma(self, op, v):
        shape = re.search(r'shape<m = (\d+), n = (\d+), k = (\d+)>', op.rest).groups()
        m, n, k = (int(d) for d in shape)
        if (m, k) != (64, 16) or op.rest.count('wgmma_type<bf16>') != 2 or \
                'wgmma_type<f32>' not in op.rest or 'mma_layout<row>' not in op.rest or \
                'mma_layout<col>' not in op.rest or op.rest.count('scale_in<one>') != 2:
            raise SystemExit('wgmma other than m64nNk16 f32.bf16.bf16, both K-major, unscaled')
        accumulator, desc_a, desc_b = v
        d = [np.array(a, dtype=np.float64) for a in accumulator]
        for group in range(self.t // 128):
            first = group * 128
            operands = []
            for descs, rows in ((desc_a, 64), (desc_b, n)):
                desc = int(descs[first])
                if np.any(np.asarray(descs)[first:first + 128] != desc):
                    raise SystemExit('wgmma descriptor differs across the warpgroup')
                if desc >> 62 or (desc >> 49) & 7:
                    raise SystemExit('wgmma descriptor with swizzle or base offset')
                start = (desc & 0x3FFF) << 4
                lbo = ((desc >> 16) & 0x3FFF) << 4
                sbo = ((desc >> 32) & 0x3FFF) << 4
                r = np.arange(rows)[:, None]
                kk = np.arange(k)[None, :]
                # K-major, no swizzle: 8 x 16-byte core matrices, LBO apart
                # along K and SBO apart along M / N.
                address = (SHARED_BASE + start + (r // 8) * sbo + (kk // 8) * lbo +
                           (r % 8) * 16 + (kk % 8) * 2).ravel()
                raw = self.gather(address, 2)
                self.wgmma_pending.append((address, raw.copy()))
                operands.append(from_bytes(raw, 'bf16', 1)[0].reshape(rows, k))
            a, b = operands
            with np.errstate(invalid='ignore'):
                product = a @ b.T  # [64, n]
            lane = np.arange(128)
            warp, g, q = lane // 32, lane % 32 // 4, lane % 4
            for i in range(n // 8):
                for r in range(4):
                    row = 16 * warp + g + 8 * (r >= 2)
                    col = 8 * i + 2 * q + r % 2
                    reg = d[4 * i + r]
                    reg[first:first + 128] = (product[row, col] + reg[first:first + 128]).astype(np.float32)
        return d

    def mma(self, op, v):
        shape = re.search(r'shape<m = 16, n = 8, k = (\d+)>', op.rest)
        k = int(shape.group(1))
        type_a = re.search(r'multiplicandAPtxType = #nvvm.mma_type<(\w+)>', op.rest).group(1)
        type_b = re.search(r'multiplicandBPtxType = #nvvm.mma_type<(\w+)>', op.rest).group(1)
        vec = int(re.search(r'scale_vec_size<x(\d)>', op.rest).group(1))
        fmt = re.search(r'block_scale_format<(\w+)>', op.rest).group(1)
        a_regs, b_regs, c, scale_a, scale_b = v[0:4], v[4:6], v[6:10], v[10], v[13]
        for ids in (v[11], v[12], v[14], v[15]):
            if np.any(ids != 0):
                raise SystemExit('byte-id / thread-id other than 0')
        d = [np.zeros(self.t) for _ in range(4)]
        packed = k == 64
        for warp in range(self.t // 32):
            lanes = range(warp * 32, warp * 32 + 32)
            a = np.zeros((16, k))
            b = np.zeros((k, 8))
            for lane in range(32):
                g, t = lane // 4, lane % 4
                t_ = lanes[lane]
                if packed:  # m16n8k64 .e2m1: 8 codes per register
                    for i in range(32):
                        word = a_regs[i // 8][t_]
                        code = word >> (4 * (i % 8)) & 0xF
                        row = g if (i < 8 or 16 <= i < 24) else g + 8
                        col = t * 8 + (i & 7) + (32 if i >= 16 else 0)
                        a[row, col] = E2M1_PACKED[code]
                    for i in range(16):
                        code = b_regs[i // 8][t_] >> (4 * (i % 8)) & 0xF
                        b[t * 8 + (i & 7) + (32 if i >= 8 else 0), g] = E2M1_PACKED[code]
                else:  # m16n8k32 8-bit containers: 4 per register
                    for i in range(16):
                        byte = a_regs[i // 4][t_] >> (8 * (i % 4)) & 0xFF
                        row = g if (i < 4 or 8 <= i < 12) else g + 8
                        col = t * 4 + (i & 3) + (16 if i >= 8 else 0)
                        a[row, col] = decode_container(byte, type_a)
                    for i in range(8):
                        byte = b_regs[i // 4][t_] >> (8 * (i % 4)) & 0xFF
                        b[t * 4 + (i & 3) + (16 if i >= 4 else 0), g] = decode_container(byte, type_b)
            chunk = k // vec
            for row in range(16):
                lane = lanes[4 * (row % 8) + row // 8]
                for j in range(vec):
                    a[row, j * chunk:(j + 1) * chunk] *= decode_scale(scale_a[lane] >> (8 * j) & 0xFF, fmt)
            for col in range(8):
                lane = lanes[4 * col]
                for j in range(vec):
                    b[j * chunk:(j + 1) * chunk, col] *= decode_scale(scale_b[lane] >> (8 * j) & 0xFF, fmt)
            with np.errstate(invalid='ignore'):
                product = a @ b
            for lane in range(32):
                g, t = lane // 4, lane % 4
                t_ = lanes[lane]
                for i in range(4):
                    row, col = g + (8 if i >= 2 else 0), 2 * t + (i % 2)
                    d[i][t_] = np.float32(np.float32(product[row, col]) + np.float32(c[i][t_]))
        return d


def main():
    ir, kernel, x_path, w_path, out_path = sys.argv[1:6]
    grid, block, memrefs, args, ops = find_kernel(open(ir).read(), kernel)
    threads = block[0] * block[1] * block[2]
    shapes = [[int(d) for d in m.split('x')[:-1]] for m in memrefs]
    x_element = memrefs[0].split('x')[-1]
    if x_element == 'i8':
        x = np.load(x_path).astype(np.uint8).ravel()
    else:  # float activations, stored in the kernel's input type
        values = np.load(x_path).astype(np.float32)
        if list(values.shape) != shapes[0]:
            raise SystemExit('x is %s; the kernel takes %s' % (values.shape, memrefs[0]))
        x = to_bytes(values.reshape(1, -1), x_element).ravel()
        shapes[0] = [len(x)]
    w = np.load(w_path).astype(np.uint8).ravel()
    if shapes[0] != [len(x)] or shapes[1] != [len(w)]:
        raise SystemExit('packed sizes %d, %d; the kernel takes %s' % (len(x), len(w), memrefs[:2]))
    y = np.full(shapes[2], np.nan)
    buffers = {GLOBAL_BASES[0]: x, GLOBAL_BASES[1]: w}
    for by in range(grid[1]):
        for bx in range(grid[0]):
            cta = Cta(threads, memrefs, buffers, y, (bx, by, 0))
            cta.env[args[0]] = ('memref', GLOBAL_BASES[0])
            cta.env[args[1]] = ('memref', GLOBAL_BASES[1])
            cta.env[args[2]] = ('memref', None)
            base = WORKGROUP_BASE  # workgroup attributions, 16-byte aligned
            for arg, memref in zip(args[3:], memrefs[3:]):
                shape, element = memref_layout('memref<' + memref + '>')
                cta.env[arg] = ('memref', base)
                base += -(-int(np.prod(shape)) * ELEMENT[element][1] // 16) * 16
            cta.run(ops)
            if cta.groups or cta.pending:
                raise SystemExit('cp.async copies in flight at exit')
    np.save(out_path, y.astype(np.float32))
    if len(sys.argv) > 6:
        xq = np.load(sys.argv[6]).astype(np.float64)
        wq = np.load(sys.argv[7]).astype(np.float64)
        tolerance = float(sys.argv[8])
        y = y.astype(np.float32).astype(np.float64)
        scale = np.abs(xq) @ np.abs(wq).T
        error = np.abs(y - xq @ wq.T) / np.where(scale > 0, scale, 1)
        worst = float(np.max(error)) if not np.isnan(y).any() else float('nan')
        print('%s: %d x %d, max |y - ref| / sum |x w| = %.3g' % (kernel, y.shape[0], y.shape[1], worst))
        if not worst <= tolerance:
            sys.exit(1)


if __name__ == '__main__':
    main()
