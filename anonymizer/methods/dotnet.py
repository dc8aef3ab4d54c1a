"""How .NET prints a JSON primitive (what Microsoft hashes, encrypts and substitutes)."""

from __future__ import annotations


def to_dotnet_string(value: object) -> str:
    """``True``/``False`` for booleans, ``""`` for null, every other value as written (``200.0`` stays ``200.0``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    return str(value)
