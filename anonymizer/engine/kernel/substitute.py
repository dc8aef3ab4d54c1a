"""substitute: the replacement a rule writes (a primitive as .NET prints it, or a copy of a JSON object)."""

from __future__ import annotations

from typing import Any

from anonymizer.methods.dotnet import to_dotnet_string


def primitive_replacement(replacement: Any) -> str | None:
    """What replaces a primitive value: the configured value as .NET prints it (``None``: removed)."""
    return None if replacement is None else to_dotnet_string(replacement)


def copy_json(value: Any) -> Any:
    """Deep copy of a replacement value; empty-string members disappear, as in Microsoft's parser."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
