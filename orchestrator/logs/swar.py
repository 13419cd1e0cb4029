"""Decimal numbers read straight out of a byte buffer, eight bytes per numpy element.

A long log holds tens of millions of numbers: turning each into a Python object costs more
than reading the disk. Instead short windows of the buffer are gathered as little-endian
uint64 words, and the eight digits of a word are combined with three multiply-shift-mask
steps ("SIMD within a register"). Gathering costs about the same for 8 or 24 bytes, so one
24-byte window holds both the word ending at a token and the literal text after it.

Only what Darknet's printf produces is accepted: `%d` integers (no sign, no leading zero, at
most 16 digits), `%f` numbers (exactly 6 decimals, at most 16 characters with the optional
`-`) and `nan`/`-nan`; anything else is reported invalid, and its line goes to the regular
expressions.
`%f` values are exact: their digits form an integer mantissa below 2**53, and one IEEE division
by 10**6 (itself exact) rounds it correctly, which is precisely what `float()` does with the text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: XOR mask turning eight ASCII digits into their values (byte k = character k).
ZEROS = int.from_bytes(b"00000000", "little")
#: The same for `d.dddddd` (one integer digit, the dot, six decimals): the dot becomes 0.
ONE_DOT_SIX = int.from_bytes(b"0.000000", "little")
#: Added to bytes 0..9 it leaves the high bit clear; to 10..127 it sets it (no carries).
DIGIT_LIMIT = 0x7676767676767676
#: The same, except that byte 1 (the dot of `d.dddddd`) must be exactly 0.
DOT_LIMIT = 0x7676767676767F76
HIGH_BITS = 0x8080808080808080
DECIMALS = 6
#: The smallest integer of each digit count: a `%d` with fewer digits had a leading zero.
SMALLEST = np.array([0] + [10 ** (digits - 1) for digits in range(1, 17)], dtype=np.int64)
#: printf's NaN, and whether it is negative (float() keeps the sign bit of `-nan`).
NAN_TEXTS = ((b"nan", False), (b"-nan", True))

#: For a subset of tokens (indices), the word ending 8 bytes before each token's end.
Earlier = Callable[[np.ndarray], np.ndarray]


class Windows:
    """`at(p)[i]` is `data[p[i]:p[i]+24]` as three uint64 words (byte k of word j being
    `data[p + 8*j + k]`), gathered from a strided `S24` view of the buffer. Positions are
    clipped into the buffer: callers reject the lines whose windows would not fit by their
    own position checks, never by an IndexError."""

    SIZE = 24

    def __init__(self, data: bytes) -> None:
        count = max(len(data) - self.SIZE + 1, 0)
        self._windows = np.ndarray((count,), dtype=f"S{self.SIZE}", buffer=data, strides=(1,))

    def at(self, positions: np.ndarray) -> np.ndarray:
        if not self._windows.size:
            return np.zeros((len(positions), self.SIZE // 8), dtype=np.uint64)
        gathered = self._windows[np.clip(positions, 0, self._windows.size - 1)]
        return gathered.view("<u8").reshape(len(positions), self.SIZE // 8)


def word(windows: np.ndarray, offset: int) -> np.ndarray:
    """The 8 bytes at `offset` (0..16) of each window."""
    index, bits = divmod(offset, 8)
    if not bits:
        return windows[:, index]
    return (windows[:, index] >> 8 * bits) | (windows[:, index + 1] << 64 - 8 * bits)


def matches(windows: np.ndarray, offset: int, text: bytes) -> np.ndarray:
    """Whether `text` (at most 16 bytes) is at `offset` in each window."""
    fits = np.ones(len(windows), dtype=bool)
    for start in range(0, len(text), 8):
        piece = text[start : start + 8]
        mask = (1 << 8 * len(piece)) - 1
        fits &= (word(windows, offset + start) & mask) == int.from_bytes(piece, "little")
    return fits


def not_digits(values: np.ndarray, limit: int = DIGIT_LIMIT) -> np.ndarray:
    """The high bit of every byte that is not 0..9 in words already XOR-ed with ZEROS."""
    return ((values + limit) | values) & HIGH_BITS


def all_digits(values: np.ndarray) -> np.ndarray:
    return not_digits(values) == 0


def eight_digits(values: np.ndarray) -> np.ndarray:
    """The number written by eight digit values, byte 0 the most significant: each step
    multiplies every lane by 10**k * 2**w + 1, adding each lane times 10**k into the next
    one, then shifts those sums back into place (no lane overflows)."""
    values = (values * (10 * 2**8 + 1)) >> 8
    values = ((values & 0x00FF00FF00FF00FF) * (100 * 2**16 + 1)) >> 16
    return ((values & 0x0000FFFF0000FFFF) * (10000 * 2**32 + 1)) >> 32


def digit_run(words: np.ndarray) -> np.ndarray:
    """How many digits each word starts with (8 when all are): the index of the lowest byte
    that is not a digit, read off the float exponent of that byte's high bit."""
    flags = not_digits(words ^ ZEROS)
    lowest = flags & (~flags + 1)
    exponent = np.frexp(lowest.astype(np.float64))[1]
    return np.where(flags == 0, 8, (exponent - 8) // 8)


def last_digits(words: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value of the last `count` (0..8) bytes of each word, and whether all are digits: the
    bytes before are shifted out and back in as zeros, which read as leading 0 digits."""
    shift = (8 * (8 - count)).astype(np.uint64)
    values = ((words ^ ZEROS) >> shift) << shift
    return eight_digits(values), all_digits(values) & (count >= 0) & (count <= 8)


def integers(last: np.ndarray, length: np.ndarray, earlier: Earlier) -> tuple[np.ndarray, np.ndarray]:
    """`%d` tokens of `length` bytes ending with the words `last`, as int64, and validity."""
    values, valid = last_digits(last, np.minimum(length, 8))
    long = np.flatnonzero(length > 8)  # beyond 10**8 images or iterations: two words
    if long.size:
        high, high_valid = last_digits(earlier(long), length[long] - 8)
        values[long] += high * 10**8
        valid[long] &= high_valid
    values = values.astype(np.int64)
    valid &= (length >= 1) & (length <= 16)
    canonical = (length == 1) | (values >= SMALLEST[np.clip(length, 0, 16)])
    return values, valid & canonical


def fixed_point(last: np.ndarray, length: np.ndarray, earlier: Earlier) -> tuple[np.ndarray, np.ndarray]:
    """`%f` tokens (and `nan`, `-nan`) of `length` bytes ending with the words `last`, as
    float64, and validity. `last` holds the last integer digit, the dot and the decimals;
    longer integer parts and the sign come from the word before, for the few that have them."""
    digits = last ^ ONE_DOT_SIX
    valid = (not_digits(digits, DOT_LIMIT) == 0) & (length >= 8) & (length <= 16)
    mantissa = eight_digits(digits) - 9 * 10**DECIMALS * (digits & 0xFF)  # d*10**7 -> d*10**6
    negative = []
    longer = np.flatnonzero(length > 8)
    if longer.size:
        before = earlier(longer)
        first_byte = (8 * (16 - length[longer])).clip(0, 56).astype(np.uint64)
        minus = (before >> first_byte) & 0xFF == ord("-")
        head, head_valid = last_digits(before, length[longer] - 8 - minus)
        mantissa[longer] += head * 10 ** (DECIMALS + 1)
        valid[longer] &= head_valid
        negative.append(longer[minus])
    values = mantissa.astype(np.float64) / 10.0**DECIMALS
    short = np.flatnonzero(length < 8)
    if short.size:
        for text, signed in NAN_TEXTS:
            nan = short[
                (length[short] == len(text)) & (last[short] >> 64 - 8 * len(text) == int.from_bytes(text, "little"))
            ]
            values[nan] = np.nan
            valid[nan] = True
            negative += [nan] if signed else []
    for indices in negative:
        values[indices] = -values[indices]
    return values, valid
