#!/usr/bin/env python3
"""Lists the CUDA images (quantc/Runtime/CudaDriver.h, magic QCCUDA01) a
compiled library carries, one line per entry: chip, kind, and for PTX its
.target line, for cubins the ELF machine (190 = EM_CUDA). Checks the entry
table against the image's bounds. usage: list_cuda_images.py LIB.so"""
import struct
import sys

MAGIC = b"QCCUDA01"


def main():
    data = open(sys.argv[1], "rb").read()
    at = data.find(MAGIC)
    images = 0
    while at >= 0:
        count, zero = struct.unpack_from("<II", data, at + 8)
        # The runtime holds the magic too (a constant, not followed by a table).
        if zero == 0 and 0 < count < 16:
            images += 1
            for i in range(count):
                chip, kind, _, offset, size = struct.unpack_from("<16sIIQQ", data, at + 16 + 40 * i)
                chip = chip.rstrip(b"\0").decode()
                payload = data[at + offset:at + offset + size]
                if len(payload) != size:
                    print(f"image {images}: entry {i} runs past the end of the file")
                    return 1
                if kind == 0:
                    target = next((l for l in payload.split(b"\n") if l.startswith(b".target")), b"?")
                    ok = payload.endswith(b"\0")
                    print(f"{chip} ptx {target.decode()}{'' if ok else ' (not NUL-terminated)'}")
                elif kind == 1:
                    machine = struct.unpack_from("<H", payload, 18)[0] if payload[:4] == b"\x7fELF" else -1
                    print(f"{chip} cubin elf machine {machine}")
                else:
                    print(f"{chip} unknown kind {kind}")
        at = data.find(MAGIC, at + 1)
    print(f"{images} image(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
