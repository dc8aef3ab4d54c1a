"""Pruning after anonymization: remove nulls and the objects and arrays redaction left empty.

Microsoft's engine removes every non-resource node that has neither a value nor children, bottom-up. In JSON a
primitive's extensions live in a ``_name`` holder beside it, and in arrays the holder is aligned by index, so
an array entry stays (as ``null``) while its holder entry still has content, and the holder array keeps its
alignment with the values. Resources are never removed (they always keep ``resourceType``).
"""

from __future__ import annotations

from typing import Any


def is_empty(value: Any) -> bool:
    """``None``, ``[]`` or ``{}``."""
    return value is None or (isinstance(value, list | dict) and not value)


def prune(value: Any) -> Any:
    """Prune ``value`` and everything below it, in place; returns it."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                prune(item)
        if any(is_empty(v) for v in value):
            value[:] = [v for v in value if not is_empty(v)]
        return value
    if not isinstance(value, dict):
        return value
    for key in list(value):
        if key in value and not key.startswith("_"):
            prune_entry(value, key, deep=True)
    prune_holders(value)
    return value


def prune_entry(obj: dict[str, Any], key: str, *, deep: bool) -> None:
    """Prune ``obj[key]`` with its ``_key`` holder; ``deep=False`` when what is below was pruned already."""
    item = obj[key]
    hkey = "_" + key
    holder = obj.get(hkey)
    if isinstance(item, list) and isinstance(holder, list):
        if deep:
            for element in holder:
                if isinstance(element, dict | list):
                    prune(element)
            for element in item:
                if isinstance(element, dict | list):
                    prune(element)
        if len(holder) != len(item) or any(is_empty(v) for v in item):
            keep = [
                i
                for i, v in enumerate(item)
                if not is_empty(v) or (i < len(holder) and not is_empty(holder[i]))
            ]
            obj[key] = item = [item[i] for i in keep]
            obj[hkey] = [holder[i] if i < len(holder) else None for i in keep]
    else:
        if deep and isinstance(holder, dict | list):
            prune(holder)
        if isinstance(item, list):
            if deep:
                for element in item:
                    if isinstance(element, dict | list):
                        prune(element)
            if any(is_empty(v) for v in item):
                item[:] = [v for v in item if not is_empty(v)]
        elif deep and isinstance(item, dict):
            prune(item)
    if item is None or (isinstance(item, list | dict) and not item):
        del obj[key]


def prune_holders(obj: dict[str, Any]) -> None:
    """Remove ``_name`` holders left empty (or holding only nulls)."""
    for key in [k for k in obj if k.startswith("_")]:
        holder = obj[key]
        if is_empty(holder) or (isinstance(holder, list) and all(is_empty(h) for h in holder)):
            del obj[key]
