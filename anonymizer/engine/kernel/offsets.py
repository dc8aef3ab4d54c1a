"""The date-shift offset of a resource: fixed, or keyed on the scope's prefix (the resource id by default)."""

from __future__ import annotations

from typing import Any

from anonymizer.methods.date_shift import offset_days


def date_offset(fixed: int | None, prefix: str | None, resource_id: Any, key: str) -> int:
    """The offset in days: ``fixed`` when set; else keyed on ``prefix`` (``None``: resource scope, the id)."""
    if fixed is not None:
        return fixed
    if prefix is None:
        prefix = resource_id if isinstance(resource_id, str) else ""
    return offset_days(prefix, key)
