"""A Bloom filter of match keys, built on the executors and OR-ed on the driver, used to thin the join's searched side.

The filter is only a pre-filter: a candidate key the filter rejects cannot be a harvested key, so it is not
shipped to the JVM; every candidate that passes still goes through the Spark join, which decides. The
driver only ever sees the bit array (no values).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Hash positions per key; with 16 bits per key this gives about 0.05 % false positives.
HASHES = 4
BITS_PER_KEY = 16
MIN_BITS = 1 << 20
#: The ``HASHES`` little-endian 32-bit words of a key's digest (what :func:`_positions` slices), in one call.
_WORDS = struct.Struct(f"<{HASHES}I").unpack
_blake2b = hashlib.blake2b


def _positions(kind: str, norm: str, size: int) -> list[int]:
    digest = hashlib.blake2b(f"{kind}\x00{norm}".encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i * 4 : i * 4 + 4], "little") % size for i in range(HASHES)]


class KeyBloom:
    """A fixed-size Bloom filter over ``(kind, norm)`` keys (picklable, mergeable).

    ``shapes``: when given, every ``(kind, len(norm))`` of the keys added; a key of another shape is rejected
    without hashing (it cannot be one of them), e.g. the 64-character pseudonyms of the research zone when no
    harvested key has that length.
    """

    #: None: no shape test (a filter pickled before shapes existed reads as such)
    shapes: frozenset[tuple[str, int]] | None = None

    def __init__(
        self, size_bits: int, bits: bytearray | None = None, shapes: frozenset[tuple[str, int]] | None = None
    ) -> None:
        self.size = size_bits
        self.bits = bits if bits is not None else bytearray((size_bits + 7) // 8)
        self.shapes = shapes

    @classmethod
    def sized_for(cls, count: int) -> KeyBloom:
        """An empty filter sized for ``count`` keys."""
        return cls(max(MIN_BITS, count * BITS_PER_KEY))

    def add(self, kind: str, norm: str) -> None:
        """Insert one key."""
        for pos in _positions(kind, norm, self.size):
            self.bits[pos >> 3] |= 1 << (pos & 7)

    def __contains__(self, key: tuple[str, str]) -> bool:
        # _positions inlined (the output pass asks once per match key of every value not met before)
        shapes = self.shapes
        if shapes is not None and (key[0], len(key[1])) not in shapes:
            return False
        size, bits = self.size, self.bits
        for word in _WORDS(_blake2b(f"{key[0]}\x00{key[1]}".encode(), digest_size=4 * HASHES).digest()):
            pos = word % size
            if not bits[pos >> 3] & (1 << (pos & 7)):
                return False
        return True

    def merge(self, other: KeyBloom) -> KeyBloom:
        """Bitwise OR with a filter of the same size (in place; returns self)."""
        merged = int.from_bytes(self.bits, "little") | int.from_bytes(other.bits, "little")
        self.bits = bytearray(merged.to_bytes(len(self.bits), "little"))
        return self

    def __repr__(self) -> str:
        return f"KeyBloom(size_bits={self.size})"


def build_bloom(keys: DataFrame, count: int, shapes: frozenset[tuple[str, int]] | None = None) -> KeyBloom:
    """Build the filter from a DataFrame of ``(kind, norm)`` rows (duplicates allowed): one partial filter per
    partition, cut into 64-bit words; Spark ORs the words per position (one job) and the driver reads one filter.
    ``shapes``: the keys' ``(kind, length)`` pairs, all of them (see :class:`KeyBloom`)."""
    from pyspark.sql import functions as F

    from anonymizer.verify.row_map import map_rows

    size = KeyBloom.sized_for(count).size
    length = (size + 7) // 8
    padded = -(-length // 8) * 8

    def partial(rows: Iterator[dict[str, Any]]) -> Iterator[tuple[int, int]]:
        bloom = KeyBloom(size)
        for row in rows:
            bloom.add(row["kind"], row["norm"])
        bits = bytes(bloom.bits) + bytes(padded - length)
        for index, word in enumerate(struct.iter_unpack("<q", bits)):
            if word[0]:
                yield (index, word[0])

    words = map_rows(keys.select("kind", "norm"), partial, "i long, w long")
    merged = bytearray(padded)
    for row in words.groupBy("i").agg(F.expr("bit_or(w)").alias("w")).collect():
        struct.pack_into("<q", merged, row["i"] * 8, row["w"])
    return KeyBloom(size, merged[:length], shapes)
