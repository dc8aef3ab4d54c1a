"""The changes the compiled walk logs, as small integers: one per (rule hit key, operation label).

A change is logged as an ``int`` (hashing it costs nothing), so a resource's operations are ``set(log)`` and the
rule hits are counted in bulk: the logs of many resources wait in :attr:`Changes.pending` and are counted into
the rule-hit ``Counter`` when it is read (:meth:`Changes.sync`) or when enough have gathered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from anonymizer.engine.kernel.labels import Hits, security_codings

__all__ = ["PENDING_LIMIT", "Changes", "LabelIds"]

#: Logged changes held before they are counted into the rule hits (bounded memory).
PENDING_LIMIT = 65_536
#: Cached label sets (per set of change ids).
CODINGS_LIMIT = 4_096

HitKey = tuple[int, str]


class LabelIds(dict[str, int]):
    """``label -> change id`` for one rule (the id is made when a label first occurs)."""

    __slots__ = ("changes", "hit_key")

    def __init__(self, changes: Changes, hit_key: HitKey) -> None:
        super().__init__()
        self.changes = changes
        self.hit_key = hit_key

    def __missing__(self, label: str) -> int:
        change = self[label] = self.changes.id(self.hit_key, label)
        return change


class Changes:
    """The change ids of one engine, the rule hits they add up to, and the labels of a set of them."""

    def __init__(self, hits: Hits) -> None:
        self.hits = hits
        #: change id -> (rule hit key, operation label)
        self.entries: list[tuple[HitKey, str]] = []
        self._ids: dict[tuple[HitKey, str], int] = {}
        #: logged changes not yet counted into :attr:`hits`
        self.pending: list[int] = []
        #: a set of change ids -> the codings of its labels (see :meth:`codings`)
        self.coded: dict[frozenset[int], tuple[dict[str, str], ...]] = {}

    def __repr__(self) -> str:
        return f"Changes(ids={len(self.entries)}, pending={len(self.pending)})"

    def id(self, hit_key: HitKey, label: str) -> int:
        """The id of a change by rule ``hit_key`` recorded as operation ``label``."""
        entry = (hit_key, label)
        change = self._ids.get(entry)
        if change is None:
            change = self._ids[entry] = len(self.entries)
            self.entries.append(entry)
        return change

    def label_ids(self, hit_key: HitKey) -> LabelIds:
        """``label -> id`` for the changes of rule ``hit_key``."""
        return LabelIds(self, hit_key)

    def record(self, log: list[int]) -> None:
        """Count ``log`` (the changes of one resource) towards the rule hits."""
        pending = self.pending
        pending.extend(log)
        if len(pending) >= PENDING_LIMIT:
            self.sync()

    def sync(self) -> None:
        """Count the pending changes into the rule hits."""
        if self.pending:
            entries, hits = self.entries, self.hits
            for change, n in Counter(self.pending).items():
                hits[entries[change][0]] += n
            self.pending.clear()

    def labels(self, changes: Any) -> set[str]:
        """The operation labels of a set of change ids."""
        entries = self.entries
        return {entries[change][1] for change in changes}

    def codings(self, changes: set[int] | frozenset[int]) -> tuple[dict[str, str], ...]:
        """:func:`~anonymizer.engine.kernel.labels.security_codings` of the labels of ``changes`` (cached)."""
        key = frozenset(changes)
        codings = self.coded.get(key)
        if codings is None:
            if len(self.coded) >= CODINGS_LIMIT:
                self.coded.clear()
            codings = self.coded[key] = security_codings(self.labels(key))
        return codings
