"""dateShift: move dates by a keyed offset of -50..+50 days, as Microsoft's tool does."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from anonymizer.methods.dates import age_over_threshold, parse_date_parts, zero_time
from anonymizer.methods.redact import REDACT, redact_date

PERTURB = "PERTURB"


@lru_cache(maxsize=65536)
def offset_days(prefix: str, key: str) -> int:
    """Microsoft's offset: fold the UTF-8 bytes of prefix+key with ``h = (h*131 + b) % 101``, minus 50."""
    h = 0
    for b in (prefix + key).encode("utf-8"):
        h = (h * 131 + b) % 101
    return h - 50


def shift_date(
    value: str, fhir_type: str, offset: int, *, partial: bool, as_of: date
) -> tuple[str | None, str]:
    """Shift a date/dateTime/instant by ``offset`` days.

    Values with a day and an implied age up to 89 are shifted as written (no time-zone conversion); the
    time is zeroed and the zone kept. Anything else falls back to redaction (year under partial mode).
    Returns the new value (``None`` = removed) and the operation recorded (``PERTURB`` or ``REDACT``).
    """
    parts = parse_date_parts(value)
    if parts is None or parts.day is None or parts.month is None or age_over_threshold(parts, as_of):
        return redact_date(value, fhir_type, partial=partial, as_of=as_of), REDACT
    try:
        shifted = date(parts.year, parts.month, parts.day) + timedelta(days=offset)
    except (ValueError, OverflowError):
        return redact_date(value, fhir_type, partial=partial, as_of=as_of), REDACT
    out = shifted.isoformat()
    if parts.time:
        out += zero_time(parts.time) + (parts.zone or "")
    return out, PERTURB
