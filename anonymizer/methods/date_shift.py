"""dateShift: move dates by a keyed offset of -50..+50 days, as Microsoft's tool does."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from anonymizer.methods.dates import age_over_threshold, parse_date_parts, zero_time
from anonymizer.methods.redact import REDACT, redact_date

PERTURB = "PERTURB"
#: The last day ``date`` has, as an ordinal (the first is 1).
MAX_ORDINAL = date.max.toordinal()

_BASE = 131
_MODULUS = 101


def fold(data: bytes) -> int:
    """Microsoft's fold of ``data``: ``h = (h*131 + b) % 101`` over its bytes, from ``h = 0``."""
    h = 0
    for b in data:
        h = (h * _BASE + b) % _MODULUS
    return h


#: ``131**k % 101`` for ``k`` in one period (131 has order 50 modulo 101).
_POWERS = tuple(pow(_BASE, k, _MODULUS) for k in range(50))


def fold_fast(data: bytes) -> int:
    """:func:`fold` by integer arithmetic in C (about 2x faster on a 64-byte id).

    ``fold(data)`` is the sum of ``data[i] * 131**(n-1-i)`` modulo 101, and ``131 = 2**-6`` modulo 101 (``64 * 131
    = 8384 = 83 * 101 + 1``): so it is ``131**(n-1)`` times ``Q = sum(data[i] * 64**i)``. ``Q`` is one integer
    whose bytes overlap at a 6-bit stride: the bytes at even ``i`` lie 12 bits (three hex digits) apart, as do
    those at odd ``i``, 6 bits further up; ``bytes.hex`` with the separator ``"0"`` writes each of the two
    sequences in that layout (from the last byte: big-endian), and ``int(text, 16)`` reads it.
    """
    n = len(data)
    if n < 2:
        return fold(data)
    # (every other byte from the last, and from the one before: the two halves of the reversed bytes, taken
    # without reversing them first)
    q = int(data[n - 1 - (n - 1) % 2 :: -2].hex("0"), 16) + (int(data[n - 1 - n % 2 :: -2].hex("0"), 16) << 6)
    return q * _POWERS[(n - 1) % 50] % _MODULUS


@lru_cache(maxsize=64)
def _key_fold(key: str) -> tuple[int, int]:
    """What the fold of ``prefix + key`` needs from ``key``: it is linear modulo 101, so
    ``fold(p + k) = (fold(p) * 131**len(k) + fold(k)) % 101``; returns ``131**len(k) % 101`` and ``fold(k)``."""
    raw = key.encode("utf-8")
    return pow(_BASE, len(raw), _MODULUS), fold(raw)


def fold_offset(prefix: str, key: str) -> int:
    """:func:`offset_days` without its memo (for callers that keep their own)."""
    try:
        raw = prefix.encode("utf-8")
        shift, tail = _key_fold(key)
    except UnicodeEncodeError:  # (a lone surrogate) raised as the byte loop raises it
        return fold((prefix + key).encode("utf-8")) - 50
    return (fold_fast(raw) * shift + tail) % _MODULUS - 50


@lru_cache(maxsize=4096)  # (a memo: ids rarely recur in resource scope; see compiled.run.OFFSETS_LIMIT)
def offset_days(prefix: str, key: str) -> int:
    """Microsoft's offset: fold the UTF-8 bytes of prefix+key with ``h = (h*131 + b) % 101``, minus 50."""
    return fold_offset(prefix, key)


def shift_plan(value: str, as_of: date) -> tuple[int, str] | None:
    """What shifting ``value`` needs whatever the offset: its day's ordinal and the text written after the day
    (the time zeroed, the zone kept); ``None`` when ``value`` is redacted instead (see :func:`shift_date`)."""
    parts = parse_date_parts(value)
    if parts is None or parts.day is None or parts.month is None or age_over_threshold(parts, as_of):
        return None
    try:
        ordinal = date(parts.year, parts.month, parts.day).toordinal()
    except ValueError:
        return None
    return ordinal, (zero_time(parts.time) + (parts.zone or "")) if parts.time else ""


def shift_planned(
    value: str, plan: tuple[int, str] | None, fhir_type: str, offset: int, *, partial: bool, as_of: date
) -> tuple[str | None, str]:
    """:func:`shift_date` of ``value`` whose :func:`shift_plan` is ``plan``."""
    if plan is not None:
        try:
            return date.fromordinal(plan[0] + offset).isoformat() + plan[1], PERTURB
        except (ValueError, OverflowError):  # out of date's range
            pass
    return redact_date(value, fhir_type, partial=partial, as_of=as_of), REDACT


def shift_date(
    value: str, fhir_type: str, offset: int, *, partial: bool, as_of: date
) -> tuple[str | None, str]:
    """Shift a date/dateTime/instant by ``offset`` days.

    Values with a day and an implied age up to 89 are shifted as written (no time-zone conversion); the
    time is zeroed and the zone kept. Anything else falls back to redaction (year under partial mode).
    Returns the new value (``None`` = removed) and the operation recorded (``PERTURB`` or ``REDACT``).
    """
    return shift_planned(value, shift_plan(value, as_of), fhir_type, offset, partial=partial, as_of=as_of)
