"""How a change is recorded: the security label of its operation, and one hit for the rule that made it.

Labels are the codings Microsoft's tool adds to ``meta.security``, in its fixed order.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

_V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
#: operation -> coding, in the order the labels are added.
LABELS: tuple[tuple[str, dict[str, str]], ...] = (
    ("REDACT", {"system": _V3, "code": "REDACTED", "display": "redacted"}),
    ("ABSTRACT", {"system": _V3, "code": "ABSTRED", "display": "abstracted"}),
    ("CRYPTOHASH", {"system": _V3, "code": "CRYTOHASH", "display": "cryptographic hash function"}),
    ("ENCRYPT", {"system": _V3, "code": "MASKED", "display": "masked"}),
    ("PERTURB", {"code": "PERTURBED", "display": "exact value is replaced with another exact value"}),
    ("SUBSTITUTE", {"code": "SUBSTITUTED", "display": "exact value is replaced with a predefined value"}),
    ("GENERALIZE", {"code": "GENERALIZED", "display": "exact value is replaced with a general value"}),
)

#: Rule hits: ``(rule index, method) -> number of elements the rule changed``.
Hits = Counter[tuple[int, str]]


def record(ops: set[str], hits: Hits, hit_key: tuple[int, str], operation: str) -> None:
    """Record one change: its operation (for the resource's labels) and a hit of the rule ``hit_key``."""
    ops.add(operation)
    hits[hit_key] += 1


def add_security_labels(resource: dict[str, Any], operations: set[str]) -> None:
    """Add one coding per recorded operation unless a coding with that code exists (case-insensitive)."""
    if not operations:
        return
    wanted = _wanted(frozenset(operations))
    if not wanted:
        return
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        meta = resource["meta"] = {}  # appended last, as Microsoft's tool does
    security = meta.setdefault("security", [])
    if not security:
        security.extend([dict(coding) for coding in wanted])
        return
    existing = {str(c.get("code", "")).lower() for c in security if isinstance(c, dict)}
    for coding in wanted:
        if coding["code"].lower() not in existing:
            security.append(dict(coding))


def security_codings(operations: set[str]) -> tuple[dict[str, str], ...]:
    """The codings :func:`add_security_labels` adds for ``operations`` to a resource without ``meta``, in order.

    Shared objects: copy them unless the result is serialised at once and never changed.
    """
    return _wanted(frozenset(operations))


@lru_cache(maxsize=256)
def _wanted(operations: frozenset[str]) -> tuple[dict[str, str], ...]:
    return tuple(coding for op, coding in LABELS if op in operations)
