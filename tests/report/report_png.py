"""A tiny PNG decoder (8-bit RGB/RGBA, not interlaced: what Chromium writes), for the tests.

Pure Python and numpy: zlib, then the five PNG row filters undone row by row.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth_row(filt: bytes, prior: np.ndarray, bpp: int) -> np.ndarray:
    out = bytearray(len(filt))
    up = prior.tolist()
    for i, byte in enumerate(filt):
        a = out[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (byte + pred) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _average_row(filt: bytes, prior: np.ndarray, bpp: int) -> np.ndarray:
    out = bytearray(len(filt))
    up = prior.tolist()
    for i, byte in enumerate(filt):
        a = out[i - bpp] if i >= bpp else 0
        out[i] = (byte + ((a + up[i]) >> 1)) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def decode_png(path: Path) -> np.ndarray:
    """Return the image as an array of shape (height, width, channels), dtype uint8."""
    data = path.read_bytes()
    assert data[:8] == SIGNATURE, f"{path} is not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(bytes(idat))
    assert len(raw) == height * (stride + 1), "truncated image data"
    image = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        filt = raw[start + 1 : start + 1 + stride]
        row = np.frombuffer(filt, dtype=np.uint8)
        if kind == 0:
            recon = row
        elif kind == 1:  # Sub: running sum per channel
            recon = row.reshape(width, bpp).cumsum(axis=0, dtype=np.uint64) & 0xFF
            recon = recon.astype(np.uint8).reshape(stride)
        elif kind == 2:  # Up
            recon = row + prior
        elif kind == 3:
            recon = _average_row(filt, prior, bpp)
        elif kind == 4:
            recon = _paeth_row(filt, prior, bpp)
        else:
            raise AssertionError(f"bad PNG filter type {kind} in row {y}")
        image[y] = recon
        prior = recon
    return image.reshape(height, width, bpp)
