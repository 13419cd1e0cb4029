"""Decimal numbers read straight out of a byte buffer, eight bytes per numpy element.

A long log holds tens of millions of numbers: turning each into a Python object costs more
than reading the disk. Instead short windows of the buffer are gathered as little-endian
uint64 words, and the eight digits of a word are combined with three multiply-shift-mask
steps ("SIMD within a register"). Gathering costs about the same for 8 or 24 bytes, so one
24-byte window holds both the word ending at a token and the literal text after it.

Only what Darknet's printf produces is accepted: `%d` integers (no sign, no leading zero, at
most 16 digits), decimals (`%f`, `%.3f`…: an optional `-`, digits, a dot and digits, at most
16 characters) and `nan`/`-nan`; anything else is reported invalid, and its line goes to the
regular expressions.
Decimals are exact: their digits form an integer mantissa below 2**53, and one IEEE division
by 10**k (itself exact) rounds it correctly, which is precisely what `float()` does with the text.
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
LOW_BITS = 0x7F7F7F7F7F7F7F7F
DOTS = int.from_bytes(b"........", "little")
#: The smallest integer of each digit count: a `%d` with fewer digits had a leading zero.
SMALLEST = np.array([0] + [10 ** (digits - 1) for digits in range(1, 17)], dtype=np.int64)
#: 10**k for the decimal places of a token (exact doubles).
POWERS_OF_TEN = 10.0 ** np.arange(16)
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


def zero_bytes(values: np.ndarray) -> np.ndarray:
    """The high bit of every byte that is 0 (exact: no carry crosses bytes)."""
    return ~(((values & LOW_BITS) + LOW_BITS) | values | LOW_BITS)


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
    """How many digits and dots each word starts with (8 when all are): the index of the
    lowest byte that is neither, read off the float exponent of that byte's high bit."""
    flags = not_digits(words ^ ZEROS) & ~zero_bytes(words ^ DOTS)
    lowest = flags & (~flags + 1)
    exponent = np.frexp(lowest.astype(np.float64))[1]
    return np.where(flags == 0, 8, (exponent - 8) // 8)


def number_run(first: np.ndarray, second: Earlier) -> np.ndarray:
    """How many digits and dots 16 bytes start with (16 at most), given their first 8 bytes
    and, for a subset of rows, the 8 after (`second`): where a decimal field ends when no
    comma or line end says it."""
    run = digit_run(first)
    longer = np.flatnonzero(run == 8)
    if longer.size:
        run[longer] += digit_run(second(longer))
    return run


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


def decimals(last: np.ndarray, length: np.ndarray, earlier: Earlier) -> tuple[np.ndarray, np.ndarray]:
    """Decimal tokens (`[-]digits[.digits]`, at most 16 bytes, and `nan`, `-nan`) as float64,
    and validity: `d.dddddd` (printf's `%f` below 10, most numbers of a log) on a short path,
    the others as `any_decimals` reads them."""
    digits = last ^ ONE_DOT_SIX
    values = (eight_digits(digits) - 9 * 10**6 * (digits & 0xFF)).astype(np.float64) / 1e6  # d*10**7 -> d*10**6
    valid = (not_digits(digits, DOT_LIMIT) == 0) & (length == 8)
    others = np.flatnonzero(~valid)
    for text, signed in NAN_TEXTS:  # Darknet's `-nan` fills the region lines of a layer without objects
        nan = others[
            (length[others] == len(text)) & (last[others] >> 64 - 8 * len(text) == int.from_bytes(text, "little"))
        ]
        values[nan], valid[nan] = (-np.nan if signed else np.nan), True
    others = others[~valid[others]]
    if others.size:
        values[others], valid[others] = any_decimals(last[others], length[others], lambda rows: earlier(others[rows]))
    return values, valid


def any_decimals(last: np.ndarray, length: np.ndarray, earlier: Earlier) -> tuple[np.ndarray, np.ndarray]:
    """Decimal tokens (`[-]digits[.digits]`, at most 16 bytes) of `length`
    bytes ending with the words `last`, as float64, and validity. The digits are read as one
    integer mantissa (the dot read as a 0 digit, then taken out) and divided by 10**decimals:
    both are exact doubles, so the one IEEE division rounds exactly as `float()` does."""
    values = np.zeros(len(last))
    valid = (length >= 1) & (length <= 16)
    high = np.zeros(len(last), dtype=np.uint64)
    two_words = np.flatnonzero(valid & (length > 8))
    if two_words.size:
        high[two_words] = earlier(two_words)
    low_count, high_count = np.minimum(length, 8), np.clip(length - 8, 0, 8)
    low, high = only_last(last ^ ZEROS, low_count), only_last(high ^ ZEROS, high_count)
    # the sign: the token's first byte, then read as a 0 digit
    in_high = length > 8
    first_shift = (8 * np.where(in_high, 16 - length, 8 - length).clip(0, 7)).astype(np.uint64)
    negative = np.where(in_high, high >> first_shift, low >> first_shift) & 0xFF == (ord("-") ^ ord("0"))
    sign_byte = np.where(negative, np.uint64(0xFF) << first_shift, np.uint64(0))
    low, high = low & ~np.where(in_high, 0, sign_byte), high & ~np.where(in_high, sign_byte, 0)
    # the dot: the only byte left that is not a digit
    low_flags, high_flags = not_digits(low), not_digits(high)
    others = flag_count(low_flags) + flag_count(high_flags)
    dot_flag = np.where(low_flags != 0, low_flags, high_flags)
    dot_index = byte_index(dot_flag & (~dot_flag + 1))  # its lowest flag: the only one when valid
    decimals = np.where(low_flags != 0, 7 - dot_index, 15 - dot_index)
    dot_shift = (8 * dot_index).astype(np.uint64)
    is_dot = np.where(low_flags != 0, low >> dot_shift, high >> dot_shift) & 0xFF == (ord(".") ^ ord("0"))
    has_dot = others == 1
    valid &= (others == 0) | (has_dot & is_dot & (decimals >= 1) & (length - negative - decimals >= 2))
    valid &= length - negative >= 1
    dot_byte = np.uint64(0xFF) << dot_shift
    low &= ~np.where(has_dot & (low_flags != 0), dot_byte, 0)
    high &= ~np.where(has_dot & (low_flags == 0), dot_byte, 0)
    whole = eight_digits(high) * np.uint64(10**8) + eight_digits(low)
    places = np.where(has_dot, decimals, 0)
    fraction = eight_digits(only_last(low, np.minimum(places, 8))) + eight_digits(
        only_last(high, np.clip(places - 8, 0, 8))
    ) * np.uint64(10**8)
    mantissa = np.where(has_dot, (whole - fraction) // np.uint64(10) + fraction, whole)
    values = mantissa.astype(np.float64) / POWERS_OF_TEN[places]
    values[negative] = -values[negative]
    return values, valid


def choices(words: tuple[bytes, ...]) -> Callable[[np.ndarray, np.ndarray, Earlier], tuple[np.ndarray, np.ndarray]]:
    """A reader of tokens that must be one of `words` (at most 8 bytes each): their index."""

    def read(last: np.ndarray, length: np.ndarray, earlier: Earlier) -> tuple[np.ndarray, np.ndarray]:
        index, valid = np.zeros(len(last), dtype=np.int64), np.zeros(len(last), dtype=bool)
        for number, text in enumerate(words):
            shift = 64 - 8 * len(text)
            same = (length == len(text)) & (last >> np.uint64(shift) == int.from_bytes(text, "little"))
            index[same], valid[same] = number, True
        return index, valid

    return read


def only_last(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The last `count` (0..8) bytes of each word, the bytes before them set to 0."""
    shift = (8 * (8 - count)).astype(np.uint64)
    kept = (values >> shift) << shift
    return np.where(count == 0, np.uint64(0), kept)


def flag_count(flags: np.ndarray) -> np.ndarray:
    """How many bytes carry a flag (their high bit)."""
    return ((flags >> np.uint64(7)) * np.uint64(0x0101010101010101)) >> np.uint64(56)


def byte_index(single_bit: np.ndarray) -> np.ndarray:
    """Index of the byte holding the one set bit (0 when none), from its float exponent."""
    return (np.frexp(single_bit.astype(np.float64))[1] - 1).clip(0) // 8
