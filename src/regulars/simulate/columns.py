"""Vectorized builders of Arrow columns: identifiers, money, timestamps and JSON text.

Everything here turns numpy arrays into Arrow arrays without a Python loop per row, so that
millions of rows cost seconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.schema import MONEY, TIMESTAMP

__all__ = [
    "concat",
    "hex_ids",
    "join_groups",
    "money",
    "money_text",
    "prefixed_ids",
    "timestamps",
]

IntArray = npt.NDArray[np.int64]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]
_CENTS = pa.array([f"{i:02d}" for i in range(100)])
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Mix 64-bit integers with SplitMix64's finalizer: a bijection of uint64."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _fixed_width_strings(chars: npt.NDArray[np.uint8]) -> pa.Array:
    """Return a string array from an ``(n, width)`` array of ASCII codes."""
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = np.ascontiguousarray(chars).reshape(-1)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).cast(pa.string())


def prefixed_ids(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    """Return identifiers such as ``C00000042``: a prefix and a zero-padded number.

    Parameters
    ----------
    prefix
        ASCII prefix (e.g. ``"C"`` for customers).
    numbers
        Non-negative integers below ``10**width``.
    width
        Number of digits.

    Returns
    -------
    pyarrow.Array
        A string array, one identifier per number.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size and (numbers.min() < 0 or numbers.max() >= 10**width):
        raise ValueError(f"identifier numbers must lie in [0, 10**{width})")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers) % 10 + ord("0")
    chars = np.empty((numbers.size, head.size + width), dtype=np.uint8)
    chars[:, : head.size] = head
    chars[:, head.size :] = digits
    return _fixed_width_strings(chars)


def hex_ids(numbers: IntArray, key: int | IntArray) -> pa.Array:
    """Return UUID-shaped identifiers (``8-4-4-4-12`` hex digits) derived from integers.

    The first 64 bits are a bijective mix of ``numbers`` (with ``key``), so distinct numbers
    always give distinct identifiers; the same numbers and key always give the same ones.

    Parameters
    ----------
    numbers
        Non-negative integers, e.g. a running counter of events.
    key
        A 64-bit key separating identifier families (events, carts, visitors...), or one key
        per number.

    Returns
    -------
    pyarrow.Array
        A string array of 36-character identifiers.
    """
    x = np.asarray(numbers, dtype=np.int64).astype(np.uint64)
    high = _splitmix64(x ^ np.asarray(key, dtype=np.int64).astype(np.uint64))
    low = _splitmix64(high ^ _GOLDEN)
    words = np.stack([high, low], axis=1).astype(">u8")
    raw = words.view(np.uint8).reshape(x.size, 16)
    nibbles = np.empty((x.size, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 15
    chars = np.full((x.size, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_DIGITS] = _HEX[nibbles]
    return _fixed_width_strings(chars)


def money(cents: IntArray) -> pa.Array:
    """Return an exact money column (``decimal128(18, 4)``) from integer cents.

    Parameters
    ----------
    cents
        Amounts in minor units (hundredths).

    Returns
    -------
    pyarrow.Array
        The amounts as the canonical money type, without passing through floats.
    """
    units = np.asarray(cents, dtype=np.int64) * 100  # four decimals
    words = np.empty((units.size, 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # sign extension to 128 bits, little-endian
    return pa.Array.from_buffers(MONEY, units.size, [None, pa.py_buffer(words)])


def money_text(cents: IntArray) -> pa.Array:
    """Return non-negative amounts in cents as text with two decimals (``"12.99"``).

    Parameters
    ----------
    cents
        Non-negative amounts in minor units.

    Returns
    -------
    pyarrow.Array
        A string array, e.g. ``1299 -> "12.99"``.
    """
    cents = np.asarray(cents, dtype=np.int64)
    whole = pa.array(cents // 100).cast(pa.string())
    fraction = _CENTS.take(pa.array(cents % 100))
    return pc.binary_join_element_wise(whole, fraction, ".")


def timestamps(seconds: IntArray, epoch_start: int) -> pa.Array:
    """Return a UTC timestamp column from whole seconds after a start.

    Parameters
    ----------
    seconds
        Whole seconds after ``epoch_start``.
    epoch_start
        The start, in seconds since the Unix epoch.

    Returns
    -------
    pyarrow.Array
        A ``timestamp[us, tz=UTC]`` array.
    """
    micros = (np.asarray(seconds, dtype=np.int64) + epoch_start) * 1_000_000
    return pa.array(micros, type=TIMESTAMP)


def concat(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays and literal strings element-wise (nulls propagate).

    Parameters
    ----------
    *parts
        String arrays of one length, or Python strings repeated on every row.

    Returns
    -------
    pyarrow.Array
        The concatenated strings.
    """
    return pc.binary_join_element_wise(*parts, "")


def join_groups(strings: pa.Array, offsets: IntArray, separator: str) -> pa.Array:
    """Join consecutive runs of strings: run ``i`` is ``strings[offsets[i]:offsets[i + 1]]``.

    Parameters
    ----------
    strings
        The strings, grouped contiguously.
    offsets
        Start of each run, and the end of the last one (length: number of runs + 1).
    separator
        Text put between the strings of a run.

    Returns
    -------
    pyarrow.Array
        One joined string per run.
    """
    lists = pa.LargeListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int64)), strings)
    return pc.binary_join(lists, separator)
