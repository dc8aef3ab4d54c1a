"""The changes the compiled walk logs, as small integers: one per (rule hit key, operation label).

A change is logged as an ``int`` (hashing it costs nothing), so a resource's operations are ``set(log)`` and the
rule hits are counted in bulk: the logs of many resources wait in :attr:`Changes.pending` and are counted into
the rule-hit ``Counter`` when it is read (:meth:`Changes.sync`) or when enough have gathered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from anonymizer.engine.kernel.labels import Hits, security_codings

__all__ = ["PENDING_LIMIT", "Changes", "LabelIds", "LogEntry"]

#: Logged changes held before they are counted into the rule hits (bounded memory).
PENDING_LIMIT = 65_536
#: Cached label sets (per set of change ids), and cached logs of whole resources (per tuple of change ids).
CODINGS_LIMIT = 4_096
LOGS_LIMIT = 4_096
#: The longest resource log cached as an entry (longer ones are queued as change ids).
LOG_MAX = 64

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


class LogEntry:
    """The changes a whole resource logged (in walk order) and the codings of their labels.

    Resources of one shape mostly log the same changes in the same order: the walk looks its log up as a tuple
    (:attr:`Changes.logs`) and queues this entry in :attr:`Changes.pending` instead of every change id.
    """

    __slots__ = ("changes", "codings", "meta")

    def __init__(self, changes: tuple[int, ...], codings: tuple[dict[str, str], ...]) -> None:
        self.changes = changes
        self.codings = codings
        #: ``{"security": [codings]}``, made once for results serialised at once (never changed afterwards)
        self.meta: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"LogEntry(changes={len(self.changes)})"


class Changes:
    """The change ids of one engine, the rule hits they add up to, and the labels of a set of them."""

    def __init__(self, hits: Hits) -> None:
        self.hits = hits
        #: change id -> (rule hit key, operation label)
        self.entries: list[tuple[HitKey, str]] = []
        self._ids: dict[tuple[HitKey, str], int] = {}
        #: logged changes not yet counted into :attr:`hits`: change ids, or a :class:`LogEntry` for all of
        #: its changes (counted in the order they came, so rule hits are inserted in the same order)
        self.pending: list[int | LogEntry] = []
        #: a resource's log as a tuple -> its entry (see :meth:`log_entry`)
        self.logs: dict[tuple[int, ...], LogEntry] = {}
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
            for item, n in Counter(self.pending).items():
                if item.__class__ is int:
                    hits[entries[item][0]] += n
                else:
                    for change in item.changes:  # type: ignore[union-attr]
                        hits[entries[change][0]] += n
            self.pending.clear()

    def log_entry(self, log: tuple[int, ...]) -> LogEntry:
        """The entry of a resource's whole ``log`` (cached; :meth:`codings` of its set of changes)."""
        entry = self.logs.get(log)
        if entry is None:
            codings = self.codings(frozenset(log))
            if len(log) > LOG_MAX:  # queued as change ids, not cached: an entry that counts nothing
                self.pending.extend(log)
                return LogEntry((), codings)
            if len(self.logs) >= LOGS_LIMIT:
                self.sync()  # no entry outside the cache stays pending: at most LOGS_LIMIT short tuples held
                self.logs.clear()
            entry = self.logs[log] = LogEntry(log, codings)
        return entry

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
