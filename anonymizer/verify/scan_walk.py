"""The walk of verify's output pass (:class:`Walk`): what one element of a research-zone resource gives every check.

:class:`~anonymizer.verify.resource_scan.OutputScanner` runs it on the top-level elements it has not met before
and memoises what it found; the objects and lists one level below are memoised here (:meth:`Walk.part`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from orjson import dumps

from anonymizer.verify import normalize as nz
from anonymizer.verify.candidates import SKIPPED_KEYS, Blob, decode_attachment
from anonymizer.verify.identifier_checks import (
    _AGE_OVER_89_IN,
    _SHORT_ZIP,
    _TEXT_CHECKS,
    _UID,
    EXEMPT_UID_ROOTS,
)
from anonymizer.verify.precision_checks import _check_object

#: A key whose elements miss this often with fewer than one hit per three misses stops being memoised (ids).
MEMO_TRIAL = 2_000
#: Elements whose JSON text is longer are not memoised (narrative, attachments: unique anyway).
MEMO_MAX_TEXT = 4_096
#: Candidates of a ``data`` element carry no value digest (the searched text is decoded, or a blob key).
DATA_SUFFIX = ".data"
_TEXT_CATEGORIES = frozenset(_TEXT_CHECKS)
_EMPTY: tuple[Any, ...] = ()


class Scan:
    """What one resource gave: candidate keys ``(kind, norm, path, digest)`` (``digest``: the value's, see
    :func:`candidate_digest`), value digests ``(path, digest) -> n``, precision findings and identifier-shape findings
    ``(check, path) -> n``."""

    __slots__ = ("candidates", "leaves", "precision", "ident")

    def __init__(self) -> None:
        self.candidates: set[tuple[str, str, str, bytes | None]] = set()
        self.leaves: Counter[tuple[str, bytes]] = Counter()
        self.precision: Counter[tuple[str, str]] = Counter()
        self.ident: Counter[tuple[str, str]] = Counter()

    def clear(self) -> None:
        """Forget everything found."""
        for found in (self.candidates, self.leaves, self.precision, self.ident):
            if found:
                found.clear()


class Part:
    """What one object or list below a top-level element contributes, in :class:`Scan` form (memoised within the
    walk of the elements not met before: their codings, periods and quantities repeat)."""

    __slots__ = ("leaves", "precision", "ident", "cands")

    def __init__(self, out: Scan) -> None:
        self.leaves = tuple(out.leaves.items())
        self.precision = tuple(out.precision.items())
        self.ident = tuple(out.ident.items())
        self.cands = frozenset(out.candidates)

    def size(self) -> int:
        """How many things it holds."""
        return len(self.leaves) + len(self.precision) + len(self.ident) + len(self.cands)


class Slot:
    """The entries of one top-level key of one table, by the element's value (a string) or JSON text (or the
    :class:`Part` of one path below a top-level element)."""

    __slots__ = ("entries", "old", "hits", "misses", "memo")

    def __init__(self) -> None:
        self.entries: dict[str | bytes, Any] = {}
        self.old: dict[str | bytes, Any] = {}
        self.hits = self.misses = 0
        self.memo = True


def ident_checks(value: str, free: bool) -> tuple[str, ...]:
    from anonymizer.text.patterns import find_patterns

    m = _UID.match(value) if len(value) < 80 else None
    if m and not m.group("uid").startswith(EXEMPT_UID_ROOTS):
        return ("dicom_uid",)
    if m or not free:
        return _EMPTY
    return tuple(_TEXT_CHECKS[found.category] for found in find_patterns(value, _TEXT_CATEGORIES))


class Walk:
    """The walk of one resource (flags say which checks run)."""

    __slots__ = ("s", "out", "leaves", "person", "zips", "ages", "ident", "dated_text", "parts")

    def __init__(
        self, s: Any, out: Scan, *, leaves: bool, person: bool, zips: bool, ages: bool, ident: bool
    ) -> None:
        self.s, self.out = s, out
        self.leaves, self.person, self.zips, self.ages, self.ident = leaves, person, zips, ages, ident
        self.dated_text = s.promises.dates in ("year", "removed")  # dates in free text are findings
        self.parts: dict[tuple[str, str, bool, bool], Slot] | None = None

    def walk_dict(self, obj: dict[str, Any], path: str, searched: bool, leafed: bool) -> None:
        if "value" in obj or "contentType" in obj or path.endswith(".photo"):
            self.check_object(obj, path)
        zips = self.zips
        for key, value in obj.items():  # element(), inlined
            child = f"{path}.{key}"
            if zips and key == "postalCode":
                self._zip(value, child)
            if key == "data" and isinstance(value, str):
                self._data(obj, value, child, searched=searched, leafed=leafed)
                continue
            self.visit(
                value, child, key, searched and key not in SKIPPED_KEYS, leafed and key != "resourceType"
            )

    def check_object(self, obj: dict[str, Any], path: str) -> None:
        """The checks of one object that read several of its keys (nothing to find without ``value``,
        ``contentType`` or a path ending in ``.photo``)."""
        s, out = self.s, self.out
        if self.person:
            _check_object(obj, path, s.promises, out.precision)
        if self.ages and "value" in obj:
            value = obj["value"]
            limit = _AGE_OVER_89_IN.get(str(obj.get("code") or obj.get("unit") or "").lower())
            if limit and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= limit:
                out.ident[("age_over_89", f"{path}.value")] += 1

    def element(
        self, obj: dict[str, Any], path: str, key: str, value: Any, searched: bool, leafed: bool
    ) -> None:
        """One key of ``obj`` (at ``path``) and its value; with :attr:`parts`, the objects and lists one level below
        the value's objects are looked up there first (:meth:`part`)."""
        child = f"{path}.{key}"
        if self.zips and key == "postalCode":
            self._zip(value, child)
        if key == "data" and isinstance(value, str):
            self._data(obj, value, child, searched=searched, leafed=leafed)
            return
        searched, leafed = searched and key not in SKIPPED_KEYS, leafed and key != "resourceType"
        if self.parts is None:
            self.visit(value, child, key, searched, leafed)
        elif isinstance(value, dict):
            self._walk_top(value, child, searched, leafed)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    self._walk_top(item, child, searched, leafed)
                else:
                    self.visit(item, child, key, searched, leafed)
        else:
            self.visit(value, child, key, searched, leafed)

    def _walk_top(self, obj: dict[str, Any], path: str, searched: bool, leafed: bool) -> None:
        """:meth:`walk_dict` of an object of a top-level element, its objects and lists through :meth:`part`."""
        if "value" in obj or "contentType" in obj or path.endswith(".photo"):
            self.check_object(obj, path)
        zips = self.zips
        for key, value in obj.items():
            child = f"{path}.{key}"
            if zips and key == "postalCode":
                self._zip(value, child)
            if key == "data" and isinstance(value, str):
                self._data(obj, value, child, searched=searched, leafed=leafed)
                continue
            inner, leaf = searched and key not in SKIPPED_KEYS, leafed and key != "resourceType"
            if value and (type(value) is dict or type(value) is list):
                self.part(value, child, key, inner, leaf)
            else:
                self.visit(value, child, key, inner, leaf)

    def part(self, value: Any, path: str, key: str, searched: bool, leafed: bool) -> None:
        """:meth:`visit` of an object or list, added from the part memo when met before at the same place."""
        assert self.parts is not None
        where = (path, key, searched, leafed)
        slot = self.parts.get(where)
        if slot is None:
            slot = self.parts[where] = Slot()
        found = None
        text = b""
        if slot.memo:
            try:
                text = dumps(value)
            except orjson.JSONEncodeError:  # not from JSON (a caller's object): walked every time
                text = b""
            found = slot.entries.get(text) if text else None
            if found is None and text:
                found = slot.old.get(text)
                if found is not None:
                    self.s.remember(slot, text, found, found.size())
            if found is not None:
                slot.hits += 1
        if found is None:
            out, self.out = self.out, Scan()
            try:
                self.visit(value, path, key, searched, leafed)
                found = Part(self.out)
            finally:
                self.out = out
            if slot.memo and text:
                slot.misses += 1
                if slot.misses >= MEMO_TRIAL and slot.hits * 3 < slot.misses:
                    slot.memo = False
                    slot.entries, slot.old = {}, {}
                elif len(text) <= MEMO_MAX_TEXT:
                    self.s.remember(slot, text, found, found.size())
        out = self.out
        if found.leaves:
            leaves = out.leaves
            for item, n in found.leaves:
                leaves[item] = leaves.get(item, 0) + n
        for item, n in found.precision:
            out.precision[item] += n
        for item, n in found.ident:
            out.ident[item] += n
        if found.cands:
            out.candidates |= found.cands

    def _zip(self, value: Any, path: str) -> None:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and _SHORT_ZIP.match(str(value)):
            self.out.ident[("zip_4_digits", path)] += 1

    def visit(self, value: Any, path: str, key: str, searched: bool, leafed: bool) -> None:
        if isinstance(value, str):
            s = self.s
            if leafed and self.leaves:
                leaves = self.out.leaves
                found = (path, s.digests.of(value))
                leaves[found] = leaves.get(found, 0) + 1
            # _check_string finds nothing in other strings: no date value starts without 4 digits
            if self.person and (
                value[:4].isdigit() or key == "postalCode" or (self.dated_text and s.free_text(path))
            ):
                for finding in s.precision_keys(value, path, key):
                    self.out.precision[finding] += 1
            if searched:
                self._searched(value, path)
        elif isinstance(value, dict):
            self.walk_dict(value, path, searched, leafed)
        elif isinstance(value, list):
            for element in value:
                self.visit(element, path, key, searched, leafed)
        elif value is not None:
            if leafed and self.leaves:
                self.out.leaves[(path, self.s.digests.of(value))] += 1
            if searched and isinstance(value, float) and not value.is_integer():
                keys = self.s.keys_of(value)
                if keys:
                    digest = self.s.digests.of(value)
                    self.out.candidates.update([(kind, norm, path, digest) for kind, norm in keys])

    def _searched(self, value: str, path: str) -> None:
        s = self.s
        keys = s.keys_of(value)
        if keys:
            digest = None if path.endswith(DATA_SUFFIX) else s.digests.of(value)
            self.out.candidates.update([(kind, norm, path, digest) for kind, norm in keys])
        if self.ident:
            free = s.free_text(path)
            # outside free text only a UID can fail: "urn:oid:" or a digit and a dot first
            if free or value[1:2] == "." or value[:8] == "urn:oid:":
                for check in s.ident_checks(value, free):
                    self.out.ident[(check, path)] += 1

    def _data(self, obj: dict[str, Any], value: str, path: str, *, searched: bool, leafed: bool) -> None:
        """An element named ``data``: the attachment is decoded once for the precision and candidate checks."""
        s, out = self.s, self.out
        if leafed and self.leaves:
            out.leaves[(path, s.digests.of(value))] += 1
        attachment = searched and ("contentType" in obj or "url" in obj or "size" in obj or "title" in obj)
        text = None
        if self.person or attachment:
            text = decode_attachment(value, obj.get("contentType"))
        if self.person and text is not None and s.promises.dates in ("year", "removed"):
            for _ in nz.date_tokens(text):
                out.precision[("date_in_text", path)] += 1
        if attachment:
            self._searched(text if text is not None else Blob(nz.blob_key(value)), path)
        elif searched:
            self._searched(value, path)
