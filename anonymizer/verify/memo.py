"""The per-worker memos of verify's passes: :class:`Memo` (two generations) and :class:`Digests`, the value digests
that the changes step compares (:func:`value_digest`) and that candidate keys carry (:func:`candidate_digest`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from anonymizer.verify.scan_walk import DATA_SUFFIX

#: Values up to this length are memoised (longer ones are mostly unique narrative text).
MEMO_CHARS = 256
_MEMO_MAX = 200_000


def value_digest(value: Any) -> bytes:
    """The digest of one primitive value that the changes step compares (BLAKE2b, 8 bytes, of its JSON)."""
    return hashlib.blake2b(orjson.dumps(value), digest_size=8).digest()


def candidate_digest(path: str, value: str | float) -> bytes | None:
    """The value digest a candidate key carries: the :func:`value_digest` of the value at ``path`` (the leak audit
    looks it up among the source's value digests at the same place), none for a ``data`` element (its searched text
    is decoded, or a blob key; free text, never exempt)."""
    return None if path.endswith(DATA_SUFFIX) else value_digest(value)


class Memo(dict[Any, Any]):
    """A per-worker memo of two generations: when the current one holds :data:`_MEMO_MAX` entries it becomes the
    old one, and an old entry asked for again is brought back, so values that repeat survive a flood of unique ones
    (ids). Look up with ``get``; on a miss call :meth:`miss`."""

    def __init__(self) -> None:
        super().__init__()
        self._old: dict[Any, Any] = {}

    def miss(self, key: Any, compute: Callable[..., Any], *args: Any) -> Any:
        """The old generation's value for ``key``, else ``compute(*args)``; remembered and returned."""
        found = self._old.get(key)
        if found is None:
            found = compute(*args)
        if len(self) >= _MEMO_MAX:
            self._old = dict(self)
            self.clear()
        self[key] = found
        return found


class Digests(Memo):
    """:func:`value_digest` memoised per type and value (short strings and every other primitive)."""

    def of(self, value: Any) -> bytes:
        """The digest of ``value``."""
        if value.__class__ is str:  # strings are their own key: no tuple, and no str equals a tuple key
            if len(value) > MEMO_CHARS:
                return value_digest(value)
            key: Any = value
        else:
            key = (value.__class__, value)
        found = self.get(key)
        if found is None:
            found = self.miss(key, value_digest, value)
        return found
