"""One walk over a research-zone resource that feeds every check of verify's output pass (pure Python).

The output pass used to walk each resource once per check: candidate extraction
(:func:`~anonymizer.verify.candidates.resource_values` and the match keys), value digests
(:func:`~anonymizer.verify.changes.leaf_values`), :func:`~anonymizer.verify.precision_checks.check_resource` and
:func:`~anonymizer.verify.identifier_checks.check_resource`. :class:`OutputScanner` produces exactly what those four
give (``tests/verify/test_resource_scan.py`` checks the equality): it counts the top-level elements it has met before
(their contributions are memoised per row type, resource type, key and flags) and walks only the others, once
(:mod:`anonymizer.verify.scan_walk`), with memos per value or per ``(path, value)`` where a result depends only on
them: FHIR repeats the same codes, units, references and years thousands of times. The functions above stay the
reference definitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from orjson import dumps

from anonymizer.verify.candidates import is_free_text_path
from anonymizer.verify.memo import MEMO_CHARS, Digests, Memo, candidate_digest
from anonymizer.verify.precision_checks import Promises, _check_string
from anonymizer.verify.scan_walk import MEMO_MAX_TEXT, MEMO_TRIAL, Scan, Slot, Walk
from anonymizer.verify.scan_walk import ident_checks as _ident_checks

_EMPTY: tuple[Any, ...] = ()


#: A candidate key ``(kind, norm, path, digest)``: ``digest`` is :func:`candidate_digest` of the value it came from.
Candidate = tuple[str, str, str, bytes | None]


class Entry:
    """What one top-level element of a resource contributes under one table's flags, and how many times it has been
    met since the last :meth:`OutputScanner.drain`: value digests ``((type, path, digest), m)``, findings
    ``((rec, check, rtype, path), m)`` (``rec`` is ``precision`` or ``ident``) and candidate keys."""

    __slots__ = ("leaves", "findings", "cands", "live", "n")

    def __init__(
        self,
        leaves: tuple[tuple[tuple[str, str, bytes], int], ...],
        findings: tuple[tuple[tuple[str, str, str, str], int], ...],
        cands: frozenset[Candidate],
    ) -> None:
        self.leaves, self.findings, self.cands = leaves, findings, cands
        self.live = bool(leaves or findings)
        self.n = 0


class _Table:
    """The element memos of one row type, resource type and set of flags, and the walk for their misses."""

    __slots__ = ("slots", "parts", "out", "ctx", "rtype", "root", "photo")

    def __init__(self, scanner: OutputScanner, rtype: str, root: str, full: bool, person: bool) -> None:
        p = scanner.promises
        self.slots: dict[str, Slot] = {}
        #: (path, key, searched, leafed) -> the parts met under a top-level element, by JSON text
        self.parts: dict[tuple[str, str, bool, bool], Slot] = {}
        self.out = Scan()  # what the walk of one element (or the resource object's own checks) found
        self.ctx = Walk(scanner, self.out, leaves=full, person=person, ages=full and p.ages, ident=full,
                            zips=full and p.zip == "zip3" and root not in scanner.zip_exempt)  # fmt: skip
        self.ctx.parts = self.parts
        self.rtype, self.root = rtype, root
        self.photo = full and root.endswith(".photo")

    def entry(self) -> Entry:
        """An entry of what :attr:`out` holds (emptied)."""
        out, rtype, root = self.out, self.rtype, self.root
        leaves = tuple(((root, path, digest), n) for (path, digest), n in out.leaves.items())
        findings = tuple((("precision", check, rtype, path), n) for (check, path), n in out.precision.items())
        if out.ident:
            findings += tuple((("ident", check, rtype, path), n) for (check, path), n in out.ident.items())
        entry = Entry(leaves, findings, frozenset(out.candidates) if out.candidates else _NO_CANDIDATES)
        out.clear()
        return entry


#: The element memos of one scanner turn over (two generations) beyond this many entries or estimated bytes.
_ENTRIES_MAX = 200_000
_ENTRIES_BUDGET = 48 << 20
_NO_CANDIDATES: frozenset[Candidate] = frozenset()


class OutputScanner:
    """Scans research-zone resources; memos live as long as the scanner (one per Python worker partition).

    :meth:`add` counts one resource: each top-level element is looked up by its value (its JSON text unless a
    string) in a memo per row type, resource type, key and flags, and only an element not met before is walked
    (:class:`_Context`); what an element contributes is the same wherever it occurs, so a hit only adds one to its
    entry's count. :meth:`drain` multiplies the entries' contributions by their counts into the pass's counters.
    """

    def __init__(
        self,
        keys_of: Callable[[str | float], list[tuple[str, str]]],
        promises: Promises,
        as_of: date,
        zip_exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.keys_of = keys_of
        self.promises = promises
        self.as_of = as_of
        self.zip_exempt = zip_exempt
        self.digests = Digests()
        self._strings = Memo()  # (path, value) -> precision keys of the string
        self._idents = Memo()  # (value, free text) -> identifier checks of the string
        self._free = Memo()  # path -> is free text
        #: (row type, resource type, full, person) -> top-level key -> slot
        self._tables: dict[tuple[str, str, bool, bool], _Table] = {}
        self._stored = self._stored_bytes = 0
        #: entries counted since the last drain (each once, while its count is above zero)
        self.pending: list[Entry] = []
        #: what the elements of keys that do not memoise (ids, references) gave since the last drain: value digests
        #: ``(type, path, digest) -> n`` and findings ``(rec, check, rtype, path) -> n``, added without an entry
        self._leaves: Counter[tuple[str, str, bytes]] = Counter()
        self._findings: Counter[tuple[str, str, str, str]] = Counter()

    def add(
        self, resource: dict[str, Any], rtype: str, *, person: bool, searched_only: bool = False
    ) -> frozenset[Candidate]:
        """Count one resource of row type ``rtype`` into :attr:`pending`; return its candidate keys
        ``(kind, norm, path, digest)``. ``person``: run the precision checks (a row about an individual); ``searched_only``:
        candidates only (a views row)."""
        own = resource.get("resourceType")
        root = own if isinstance(own, str) else "Unknown"
        full = not searched_only
        person = full and person
        where = (rtype, root, full, person)
        table = self._tables.get(where)
        if table is None:
            table = self._tables[where] = _Table(self, rtype, root, full, person)
        slots = table.slots
        pending = self.pending
        cands = _NO_CANDIDATES
        if full and ("value" in resource or "contentType" in resource or table.photo):
            self._root(resource, table)  # what _check_object and the age check read
        for key, value in resource.items():
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = Slot()
            entry = None
            if slot.memo:
                if type(value) is str:
                    text: str | bytes = value
                    if key != "data":
                        entry = slot.entries.get(value)
                else:
                    try:
                        text = dumps(value)
                    except orjson.JSONEncodeError:  # not from JSON (a caller's object): walked every time
                        text = ""
                    entry = slot.entries.get(text)
                if entry is None:
                    entry = self._miss(slot, text, resource, key, value, table)
                else:
                    slot.hits += 1
            else:
                found = self._unmemoised(resource, key, value, table)
                if found:
                    cands = frozenset(found) if not cands else cands | found
                    found.clear()
                continue
            if entry.live:
                if not entry.n:
                    pending.append(entry)
                entry.n += 1
            if entry.cands:
                cands = entry.cands if not cands else cands | entry.cands
        return cands

    def close(self) -> None:
        """Forget the memos. Each table's walk refers back to the scanner (a reference cycle): after this, reference
        counting frees them, as the output pass runs with the cyclic collector off."""
        self._tables.clear()
        self.pending.clear()

    def backlog(self) -> int:
        """How many entries and value digests wait for :meth:`drain`."""
        return len(self.pending) + len(self._leaves)

    def drain(self, leaves: Counter[Any], findings: Counter[Any]) -> None:
        """Add what the pending entries contributed, times their counts, to ``leaves`` (``(type, path, digest)``)
        and ``findings`` (``(rec, check, rtype, path)``); their counts start again from zero."""
        if self._leaves:
            leaves.update(self._leaves)
            self._leaves.clear()
        if self._findings:
            findings.update(self._findings)
            self._findings.clear()
        for entry in self.pending:
            n = entry.n
            for key, m in entry.leaves:
                leaves[key] += m * n
            for finding, m in entry.findings:
                findings[finding] += m * n
            entry.n = 0
        self.pending.clear()

    def scan(self, resource: dict[str, Any], *, person: bool, searched_only: bool = False) -> Scan:
        """Every check's output for one resource, through :meth:`add` and :meth:`drain` (standalone use: nothing may
        be pending)."""
        if self.backlog() or self._findings:
            raise RuntimeError("scan() while entries are pending: drain() first")
        own = resource.get("resourceType")
        root = own if isinstance(own, str) else "Unknown"
        out = Scan()
        out.candidates = set(self.add(resource, root, person=person, searched_only=searched_only))
        leaves: Counter[tuple[str, str, bytes]] = Counter()
        findings: Counter[tuple[str, str, str, str]] = Counter()
        self.drain(leaves, findings)
        for (_type, path, digest), n in leaves.items():
            out.leaves[(path, digest)] += n
        for (rec, check, _rtype, path), n in findings.items():
            (out.precision if rec == "precision" else out.ident)[(check, path)] += n
        return out

    def _root(self, resource: dict[str, Any], table: _Table) -> None:
        """The resource object's own checks (they read several of its keys): counted once when they find something."""
        table.ctx.check_object(resource, table.root)
        if table.out.precision or table.out.ident:
            entry = table.entry()
            entry.n = 1
            self.pending.append(entry)

    def _element(self, resource: dict[str, Any], key: str, value: Any, table: _Table) -> Entry:
        """Walk one top-level element (what :meth:`_Context.walk_dict` does for one key of the resource)."""
        table.ctx.element(resource, table.root, key, value, True, True)
        return table.entry()

    def _unmemoised(self, resource: dict[str, Any], key: str, value: Any, table: _Table) -> set[Candidate]:
        """Walk one top-level element of a key that does not memoise and count what it gives directly (no entry);
        returns its candidate keys (the walk's set: empty it once used)."""
        out = table.out
        table.ctx.element(resource, table.root, key, value, True, True)
        if out.leaves:
            counted, root = self._leaves, table.root
            for (path, digest), n in out.leaves.items():
                leaf = (root, path, digest)
                counted[leaf] = counted.get(leaf, 0) + n
            out.leaves.clear()
        if out.precision or out.ident:
            rtype, findings = table.rtype, self._findings
            for (check, path), n in out.precision.items():
                findings[("precision", check, rtype, path)] += n
            for (check, path), n in out.ident.items():
                findings[("ident", check, rtype, path)] += n
            out.precision.clear()
            out.ident.clear()
        return out.candidates

    def _miss(
        self,
        slot: Slot,
        text: str | bytes,
        resource: dict[str, Any],
        key: str,
        value: Any,
        table: _Table,
    ) -> Entry:
        """An element not in the current generation: from the old one, else walked; remembered when it may repeat."""
        entry = slot.old.get(text) if text else None
        if entry is not None:
            slot.hits += 1
        else:
            entry = self._element(resource, key, value, table)
            slot.misses += 1
            if slot.misses >= MEMO_TRIAL and slot.hits * 3 < slot.misses:
                slot.memo = False  # values here rarely repeat (ids, references to one resource)
                slot.entries, slot.old = {}, {}
                return entry
            if not text or len(text) > MEMO_MAX_TEXT or (key == "data" and type(value) is str):
                return entry
        self.remember(slot, text, entry, len(entry.leaves) + len(entry.findings) + len(entry.cands))
        return entry

    def remember(self, slot: Slot, text: str | bytes, found: Any, size: int) -> None:
        """Store ``found`` (an :class:`Entry` or a :class:`Part` holding ``size`` things) in ``slot``."""
        if type(text) is bytes:
            text = bytes(memoryview(text))  # orjson's bytes keep a 4 KiB buffer whatever their length
        slot.entries[text] = found
        self._stored += 1
        self._stored_bytes += len(text) + 200 * (size + 1)
        if self._stored >= _ENTRIES_MAX or self._stored_bytes >= _ENTRIES_BUDGET:
            self._turn_over()

    def _turn_over(self) -> None:
        """The current generation of every element memo becomes the old one."""
        for table in self._tables.values():
            for slot in (*table.slots.values(), *table.parts.values()):
                slot.old, slot.entries = slot.entries, {}
        self._stored = self._stored_bytes = 0

    def free_text(self, path: str) -> bool:
        """:func:`is_free_text_path`, memoised per path."""
        found = self._free.get(path)
        if found is None:
            found = self._free.miss(path, is_free_text_path, path)
        return found

    def precision_keys(self, value: str, path: str, key: str) -> tuple[tuple[str, str], ...]:
        """The precision findings of one string at ``path`` (``_check_string``), memoised per (path, value)."""
        if len(value) > MEMO_CHARS:
            return self._precision_keys(value, path, key)
        memo_key = (path, value)
        found = self._strings.get(memo_key)
        if found is None:
            found = self._strings.miss(memo_key, self._precision_keys, value, path, key)
        return found

    def _precision_keys(self, value: str, path: str, key: str) -> tuple[tuple[str, str], ...]:
        found: Counter[tuple[str, str]] = Counter()
        _check_string(value, path, key, self.promises, self.as_of, found)
        return tuple(found.elements()) if found else _EMPTY

    def ident_checks(self, value: str, free: bool) -> tuple[str, ...]:
        """The identifier-shape checks one searched string fails (``identifier_checks.check_resource``)."""
        if len(value) > MEMO_CHARS:
            return _ident_checks(value, free)
        memo_key = (value, free)
        found = self._idents.get(memo_key)
        if found is None:
            found = self._idents.miss(memo_key, _ident_checks, value, free)
        return found


def reference_scan(
    resource: dict[str, Any],
    keys_of: Callable[[str | float], list[tuple[str, str]]],
    promises: Promises,
    as_of: date,
    zip_exempt: frozenset[str] = frozenset(),
    *,
    person: bool,
    searched_only: bool = False,
) -> Scan:
    """:meth:`OutputScanner.scan` computed by the reference functions, one walk each (value digests only for a
    string ``resourceType``, as the changes step has always compared them)."""
    from anonymizer.verify import identifier_checks, precision_checks
    from anonymizer.verify.candidates import resource_values
    from anonymizer.verify.changes import leaf_values

    out = Scan()
    out.candidates = {
        (k, n, path, candidate_digest(path, value))
        for path, value in resource_values(resource)
        for k, n in keys_of(value)
    }
    if searched_only:
        return out
    if isinstance(resource.get("resourceType"), str):
        out.leaves = leaf_values(resource)
    if person:
        out.precision = precision_checks.check_resource(resource, promises, as_of)
    out.ident = identifier_checks.check_resource(resource, promises, zip_exempt)
    return out
