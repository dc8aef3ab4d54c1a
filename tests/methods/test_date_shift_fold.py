"""``date_shift``'s offset (the fold of prefix+key split into the
prefix's, by integer arithmetic, and the key's, precomputed per key) and its shift
(a day ordinal and a suffix per value) against the byte loop and the date arithmetic they replace."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from anonymizer.methods import date_shift
from anonymizer.methods.dates import age_over_threshold, parse_date_parts, zero_time
from anonymizer.methods.redact import REDACT, redact_date

AS_OF = date(2026, 1, 1)


def _loop_offset(prefix: str, key: str) -> int:
    h = 0
    for b in (prefix + key).encode("utf-8"):
        h = (h * 131 + b) % 101
    return h - 50


def _arithmetic_shift(value: str, fhir_type: str, offset: int, partial: bool) -> tuple[str | None, str]:
    parts = parse_date_parts(value)
    if parts is None or parts.day is None or parts.month is None or age_over_threshold(parts, AS_OF):
        return redact_date(value, fhir_type, partial=partial, as_of=AS_OF), REDACT
    try:
        shifted = date(parts.year, parts.month, parts.day) + timedelta(days=offset)
    except (ValueError, OverflowError):
        return redact_date(value, fhir_type, partial=partial, as_of=AS_OF), REDACT
    out = shifted.isoformat()
    if parts.time:
        out += zero_time(parts.time) + (parts.zone or "")
    return out, date_shift.PERTURB


def _text(rng: random.Random, alphabet: str, longest: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


@pytest.mark.parametrize("seed", range(6))
def test_offset_is_the_byte_loop_for_random_prefixes_and_keys(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "abcXYZ019-./:|#_ é日本\U0001f600\u00a0\x00\x7f"
    for _ in range(400):
        # prefixes of odd and even lengths, short and long; keys of every length class (also empty)
        prefix, key = (
            _text(rng, alphabet, rng.choice([3, 40, 120, 400])),
            _text(rng, alphabet, rng.choice([0, 5, 70])),
        )
        assert date_shift.fold_offset(prefix, key) == _loop_offset(prefix, key)
        assert date_shift.offset_days(prefix, key) == _loop_offset(prefix, key)


def test_offset_of_a_lone_surrogate_raises_as_the_byte_loop() -> None:
    for prefix, key in (("a\ud800", "key"), ("abc", "k\udfff")):
        with pytest.raises(UnicodeEncodeError):
            _loop_offset(prefix, key)
        with pytest.raises(UnicodeEncodeError):
            date_shift.fold_offset(prefix, key)


def _date_value(rng: random.Random) -> str:
    year = rng.choice([1, 2, 1899, 1935, 1936, 1937, 2000, 2024, 9998, 9999, rng.randint(0, 9999)])
    month, day = rng.randint(0, 13), rng.choice([1, 28, 29, 30, 31, 0, 32, rng.randint(1, 28)])
    text = f"{year:04d}"
    if rng.random() < 0.9:
        text += f"-{month:02d}"
        if rng.random() < 0.9:
            text += f"-{day:02d}"
    if rng.random() < 0.7:
        text += "T" + rng.choice(["10", "10:20", "10:20:30", "10:20:30.1", "23:59:59.123456"])
    if rng.random() < 0.7:
        text += rng.choice(["Z", "+05:00", "-04:00", "+5", ""])
    if rng.random() < 0.1:  # the unanchored search: text around the date
        text = rng.choice(["x", "about ", "12", ""]) + text + rng.choice(["", " y", "Tz"])
    return text


@pytest.mark.parametrize("seed", range(4))
def test_shift_is_the_date_arithmetic_for_random_values_and_offsets(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        value = _date_value(rng) if rng.random() < 0.95 else _text(rng, "0123456789-T:Z+. ab", 20)
        offset = rng.choice([rng.randint(-50, 50), 0, -(10**6), 10**6, 3_000_000, -(10**12), 10**40])
        fhir_type, partial = rng.choice(["date", "dateTime", "instant"]), rng.random() < 0.5
        expected = _arithmetic_shift(value, fhir_type, offset, partial)
        assert date_shift.shift_date(value, fhir_type, offset, partial=partial, as_of=AS_OF) == expected


def test_fast_fold_is_the_byte_loop_for_every_length() -> None:
    rng = random.Random(7)
    for n in range(320):
        for _ in range(3):
            data = bytes(rng.randrange(256) for _ in range(n))
            assert date_shift.fold_fast(data) == date_shift.fold(data)
    assert date_shift.fold_fast(b"\xff" * 200) == date_shift.fold(b"\xff" * 200)
