"""One walk over a research-zone resource that feeds every check of verify's output pass (pure Python).

The output pass used to walk each resource once per check: candidate extraction
(:func:`~anonymizer.verify.candidates.resource_values` and the match keys), value digests
(:func:`~anonymizer.verify.changes.leaf_values`), :func:`~anonymizer.verify.precision_checks.check_resource` and
:func:`~anonymizer.verify.identifier_checks.check_resource`. :class:`OutputScanner` visits every node once and
produces exactly what those four give (``tests/verify/test_resource_scan.py`` checks the equality), with memos
per value or per ``(path, value)`` where a result depends only on them: FHIR repeats the same codes, units,
references and years thousands of times. The functions above stay the reference definitions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from anonymizer.verify import normalize as nz
from anonymizer.verify.candidates import SKIPPED_KEYS, Blob, decode_attachment, is_free_text_path
from anonymizer.verify.identifier_checks import (
    _AGE_OVER_89_IN,
    _SHORT_ZIP,
    _TEXT_CHECKS,
    _UID,
    EXEMPT_UID_ROOTS,
)
from anonymizer.verify.precision_checks import _DATE_VALUE_RE, Promises, _check_object, _check_string

#: Values up to this length are memoised (longer ones are mostly unique narrative text).
MEMO_CHARS = 256
_MEMO_MAX = 200_000
_TEXT_CATEGORIES = frozenset(_TEXT_CHECKS)
_EMPTY: tuple[Any, ...] = ()


def value_digest(value: Any) -> bytes:
    """The digest of one primitive value that the changes step compares (BLAKE2b, 8 bytes, of its JSON)."""
    return hashlib.blake2b(orjson.dumps(value), digest_size=8).digest()


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


class Scan:
    """What one resource gave: candidate keys ``(kind, norm, path)``, value digests ``(path, digest) -> n``,
    precision findings and identifier-shape findings ``(check, path) -> n``."""

    __slots__ = ("candidates", "leaves", "precision", "ident")

    def __init__(self) -> None:
        self.candidates: set[tuple[str, str, str]] = set()
        self.leaves: Counter[tuple[str, bytes]] = Counter()
        self.precision: Counter[tuple[str, str]] = Counter()
        self.ident: Counter[tuple[str, str]] = Counter()


class OutputScanner:
    """Scans research-zone resources; memos live as long as the scanner (one per Python worker partition)."""

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

    def scan(self, resource: dict[str, Any], *, person: bool, searched_only: bool = False) -> Scan:
        """Every check's output for one resource (its ``resourceType`` a string). ``person``: run the precision checks (a row about an
        individual); ``searched_only``: candidates only (a views row)."""
        out = Scan()
        own = resource.get("resourceType")
        root = own if isinstance(own, str) else "Unknown"
        full = not searched_only
        p = self.promises
        ctx = _Context(
            self,
            out,
            leaves=full,
            person=full and person,
            zips=full and p.zip == "zip3" and root not in self.zip_exempt,
            ages=full and p.ages,
            ident=full,
        )
        ctx.walk_dict(resource, root, searched=True, leafed=True)
        return out

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


def _ident_checks(value: str, free: bool) -> tuple[str, ...]:
    from anonymizer.text.patterns import find_patterns

    m = _UID.match(value) if len(value) < 80 else None
    if m and not m.group("uid").startswith(EXEMPT_UID_ROOTS):
        return ("dicom_uid",)
    if m or not free:
        return _EMPTY
    return tuple(_TEXT_CHECKS[found.category] for found in find_patterns(value, _TEXT_CATEGORIES))


class _Context:
    """The walk of one resource (flags say which checks run)."""

    __slots__ = ("s", "out", "leaves", "person", "zips", "ages", "ident")

    def __init__(
        self, s: OutputScanner, out: Scan, *, leaves: bool, person: bool, zips: bool, ages: bool, ident: bool
    ) -> None:
        self.s, self.out = s, out
        self.leaves, self.person, self.zips, self.ages, self.ident = leaves, person, zips, ages, ident

    def walk_dict(self, obj: dict[str, Any], path: str, *, searched: bool, leafed: bool) -> None:
        s, out = self.s, self.out
        if self.person:
            _check_object(obj, path, s.promises, out.precision)
        if self.ages and "value" in obj:
            value = obj["value"]
            limit = _AGE_OVER_89_IN.get(str(obj.get("code") or obj.get("unit") or "").lower())
            if limit and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= limit:
                out.ident[("age_over_89", f"{path}.value")] += 1
        for key, value in obj.items():
            child = f"{path}.{key}"
            if (
                self.zips
                and key == "postalCode"
                and isinstance(value, (str, int))
                and not isinstance(value, bool)
                and _SHORT_ZIP.match(str(value))
            ):
                out.ident[("zip_4_digits", child)] += 1
            if key == "data" and isinstance(value, str):
                self._data(obj, value, child, searched=searched, leafed=leafed)
                continue
            self.visit(value, child, key, searched=searched and key not in SKIPPED_KEYS,
                       leafed=leafed and key != "resourceType")  # fmt: skip

    def visit(self, value: Any, path: str, key: str, *, searched: bool, leafed: bool) -> None:
        if isinstance(value, str):
            self._string(value, path, key, searched=searched, leafed=leafed)
        elif isinstance(value, dict):
            self.walk_dict(value, path, searched=searched, leafed=leafed)
        elif isinstance(value, list):
            for element in value:
                self.visit(element, path, key, searched=searched, leafed=leafed)
        elif value is not None:
            if leafed and self.leaves:
                self.out.leaves[(path, self.s.digests.of(value))] += 1
            if searched and isinstance(value, float) and not value.is_integer():
                for kind, norm in self.s.keys_of(value):
                    self.out.candidates.add((kind, norm, path))

    def _string(self, value: str, path: str, key: str, *, searched: bool, leafed: bool) -> None:
        s, out = self.s, self.out
        if leafed and self.leaves:
            out.leaves[(path, s.digests.of(value))] += 1
        if self.person:
            for found in s.precision_keys(value, path, key):
                out.precision[found] += 1
        if searched:
            self._searched(value, path)

    def _searched(self, value: str, path: str) -> None:
        s, out = self.s, self.out
        for kind, norm in s.keys_of(value):
            out.candidates.add((kind, norm, path))
        if self.ident:
            for check in s.ident_checks(value, s.free_text(path)):
                out.ident[(check, path)] += 1

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
    out.candidates = {(k, n, path) for path, value in resource_values(resource) for k, n in keys_of(value)}
    if searched_only:
        return out
    if isinstance(resource.get("resourceType"), str):
        out.leaves = leaf_values(resource)
    if person:
        out.precision = precision_checks.check_resource(resource, promises, as_of)
    out.ident = identifier_checks.check_resource(resource, promises, zip_exempt)
    return out


class Digests(Memo):
    """:func:`value_digest` memoised per type and value (short strings and every other primitive)."""

    def of(self, value: Any) -> bytes:
        """The digest of ``value``."""
        if isinstance(value, str) and len(value) > MEMO_CHARS:
            return value_digest(value)
        key = (value.__class__, value)
        found = self.get(key)
        if found is None:
            found = self.miss(key, value_digest, value)
        return found


def source_values(
    resource: dict[str, Any], digests: Digests, *, decades: bool
) -> tuple[Counter[tuple[str, bytes]], Counter[str]]:
    """One walk of a landing resource: :func:`~anonymizer.verify.changes.leaf_values` (with ``digests``) and, when
    ``decades``, :func:`~anonymizer.verify.precision_checks.date_decades`."""
    leaves: Counter[tuple[str, bytes]] = Counter()
    found: Counter[str] = Counter()
    match = _DATE_VALUE_RE.match

    def visit(obj: Any, path: str, leafed: bool) -> None:
        if isinstance(obj, str):
            if leafed:
                leaves[(path, digests.of(obj))] += 1
            if decades and len(obj) >= 4 and obj[:4].isdigit():
                date_match = match(obj)
                if date_match:
                    found[f"{date_match.group(1)[:3]}0s"] += 1
        elif isinstance(obj, dict):
            for key, value in obj.items():
                visit(value, f"{path}.{key}", leafed and key != "resourceType")
        elif isinstance(obj, list):
            for element in obj:
                visit(element, path, leafed)
        elif obj is not None and leafed:
            leaves[(path, digests.of(obj))] += 1

    visit(resource, str(resource.get("resourceType", "Unknown")), True)
    return leaves, found
