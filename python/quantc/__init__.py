"""quantc: low-bit number formats, bit-exact with the quantc compiler.

    import numpy as np, quantc
    x = np.random.randn(256, 4096).astype(np.float32)
    y = quantc.fake_quant(x, "nvfp4")
    print(quantc.qsnr(x, y), quantc.bits_per_element(x.shape, "nvfp4"))
    packed = quantc.pack(x, "mxfp4, scale_rounding = ceil")
    r = quantc.hadamard(x, axis=-1, seed=7)

Formats are the specs of #qc.format: a named format ("mxfp4", "nvfp4",
"int4_g32", "e3m2", ...) optionally followed by ", key = value" overrides.
"""
from ._quantc import (bits_per_element, canonical_format, fake_quant, formats,
                      hadamard, hadamard_matrix, pack, qsnr, unpack)

__all__ = ["bits_per_element", "canonical_format", "fake_quant", "formats",
           "hadamard", "hadamard_matrix", "pack", "qsnr", "unpack"]
