import os
import sys

import numpy as np
import quantc

d = sys.argv[1]
x = np.load(os.path.join(d, "x.npy"))
y = quantc.fake_quant(x, "nvfp4")
print("fake_quant nvfp4 bit-identical:",
      np.array_equal(y.view(np.uint32), np.load(os.path.join(d, "nvfp4.npy")).view(np.uint32)))
p = quantc.pack(x, "mxfp4, scale_rounding = ceil")
print("pack mxfp4 ceil bit-identical:", np.array_equal(p, np.load(os.path.join(d, "mxfp4.npy"))))
u = quantc.unpack(p, list(x.shape), "mxfp4, scale_rounding = ceil")
print("unpack round trip:", np.array_equal(u, quantc.fake_quant(x, "mxfp4, scale_rounding = ceil")))
h = quantc.hadamard(x, axis=-1, seed=7)
print("hadamard bit-identical:", np.array_equal(h, np.load(os.path.join(d, "h.npy"))))
q = quantc.hadamard_matrix(24, seed=1)
print("hadamard_matrix orthonormal:", bool(np.abs(q @ q.T - np.eye(24)).max() < 1e-6))
print("canonical:", quantc.canonical_format("e2m1, block = 32, scale = e8m0"))
print("bits nvfp4 8x128:", quantc.bits_per_element([8, 128], "nvfp4"))
for bad in [lambda: quantc.fake_quant(np.zeros((4, 48), np.float32), "mxfp4"),
            lambda: quantc.fake_quant(x, "mxfp3")]:
    try:
        bad()
        print("no error")
    except ValueError as e:
        print("ValueError:", e)
