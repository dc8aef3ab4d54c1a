"""One walk over a landing resource that feeds every check of verify's source pass (pure Python).

For every landing resource the source pass needs its value digests per path (the changes step,
:func:`~anonymizer.verify.changes.leaf_values`), the decades of its dates when it is about an individual
(:func:`~anonymizer.verify.precision_checks.date_decades`) and its harvested identifier keys
(:func:`~anonymizer.verify.harvest.harvest_resource`). :class:`SourceScanner` gives exactly what those three give
(``tests/verify/test_source_scan.py`` checks the equality) in one walk.

What an element gives depends only on its path, on whether the resource is about an individual (and whether the
element lies in a ``contained`` resource, which the harvest leaves to its own type) and on its content, and FHIR
repeats whole elements: codings, categories, ``subject``/``encounter`` references, ``meta``, units. So the
contributions of each element (a dict, or a primitive directly under the resource) are computed once and memoised
under ``(type, path, mode, JSON text)``: a repeat costs one ``orjson.dumps`` and one lookup, and only bumps the
entry's use count; the value digests and decades are multiplied by it when the scanner is drained. The harvested
keys are added per resource, because the harvest keeps one label per key and path of a resource (the first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from anonymizer.verify import normalize as nz
from anonymizer.verify.harvest import CLASSIFIED_KEYS, _classify, is_ignored, is_person_linked
from anonymizer.verify.memo import Digests
from anonymizer.verify.precision_checks import _DATE_VALUE_RE

#: Memo entries per generation, and value digests held by one generation's entries, before it becomes the old one.
_MEMO_ENTRIES = 100_000
_MEMO_LEAVES = 2_000_000
#: A place stops memoising when, after this many look-ups, fewer than one in :data:`_MIN_HIT_RATE` was a hit (ids,
#: timestamps and unique references cost a serialisation and a memo entry for nothing).
_PROBE_LOOKUPS = 256
_MIN_HIT_RATE = 3
#: What an element contributes: value digests only (not about an individual); digests and decades (inside a
#: contained resource of a person's resource); digests, decades and harvested keys.
_LEAVES, _DECADES, _HARVEST = 0, 1, 2
_NOT_HARVESTED = frozenset({"contained", "resource"})
_BIRTH_KEYS = frozenset({"birthDate", "deceasedDateTime"})
_match_date = _DATE_VALUE_RE.match

#: One harvested key: kind, norm, category, label, source type, source path (the fields of ``Harvested``).
HarvestKey = tuple[str, str, str, str, str, str]
Leaf = tuple[str, str, bytes]


class _Entry:
    """An element's contributions: ``(type, path, digest)`` per primitive value, decades, harvested keys (first
    label per key and path), and how many times it was met since the scanner was last drained."""

    __slots__ = ("leaves", "decades", "harvest", "count")

    def __init__(self, leaves: list[Leaf], decades: list[str], harvest: list[HarvestKey]) -> None:
        self.leaves = leaves
        self.decades = decades
        self.harvest = harvest
        self.count = 0


class _Site:
    """A place in a resource type: its path, the mode of the dicts there (``mode``) and of the primitives there
    (``value_mode``: a ``contained`` list's strings are still harvested), whether it memoises, and its children."""

    __slots__ = ("rtype", "path", "key", "mode", "value_mode", "memo", "lookups", "hits", "children")

    def __init__(self, rtype: str, path: str, key: str, value_mode: int) -> None:
        self.rtype, self.path, self.key, self.value_mode = rtype, path, key, value_mode
        self.mode = min(value_mode, _DECADES) if key in _NOT_HARVESTED else value_mode
        self.memo = True
        self.lookups = self.hits = 0
        self.children: dict[str, _Site] = {}

    def child(self, key: str) -> _Site:
        """The site of ``key`` in a dict at this site."""
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = _Site(self.rtype, f"{self.path}.{key}", key, self.mode)
        return found

    def looked_up(self, hit: bool) -> None:
        """Count a memo look-up; stop memoising when they rarely hit."""
        self.lookups += 1
        if hit:
            self.hits += 1
        elif self.lookups >= _PROBE_LOOKUPS and self.hits * _MIN_HIT_RATE < self.lookups:
            self.memo = False


class SourceScanner:
    """Scans landing resources; memos and counters live as long as the scanner (one per partition).

    :meth:`scan` one resource after the other, then :meth:`drain` the value digests ``(type, path, digest) -> n``
    and decades ``decade -> n``; :attr:`harvested` holds the distinct harvested keys (clear it when emitted).
    """

    def __init__(self) -> None:
        self.digests = Digests()
        self.harvested: set[HarvestKey] = set()
        self._memo: dict[tuple[_Site, Any, int], _Entry] = {}
        self._old: dict[tuple[_Site, Any, int], _Entry] = {}
        self._stored = 0
        self._used: list[_Entry] = []  # entries met since the last drain (count > 0)
        self._pending = 0  # their value digests
        self._roots: dict[tuple[str, bool], _Site] = {}
        # contributions of elements not memoised, since the last drain
        self._leaves: list[Leaf] = []
        self._decades: list[str] = []

    def scan(self, resource: dict[str, Any]) -> None:
        """Add one landing resource (its ``resourceType`` a string)."""
        rtype: str = resource["resourceType"]
        person = is_person_linked(resource)
        root = self._roots.get((rtype, person))
        if root is None:
            root = self._roots[(rtype, person)] = _Site(rtype, rtype, "", _HARVEST if person else _LEAVES)
        keys: list[HarvestKey] = []
        if person and not CLASSIFIED_KEYS.isdisjoint(resource):
            keys.extend(_keys(_classify(resource, rtype, rtype), rtype))
        for key, value in resource.items():
            if key == "resourceType":
                # ``value`` is ``rtype``: not a value the changes compare, but it may be a date with a decade
                if person and rtype[:4].isdigit():
                    self._decades.extend(_decades_only(value))
                continue
            site = root.children.get(key) or root.child(key)
            if key == "id" and person and isinstance(value, str):
                # the resource id is harvested as such (never as a date)
                self._top(value, site, _DECADES, keys)
                id_key = ("compact", nz.compact_key(value), "R", "resource id", rtype, site.path)
                if not is_ignored("compact", id_key[1]):
                    keys.append(id_key)
            elif isinstance(value, list):
                for element in value:
                    if isinstance(element, list):  # a list in a list: no harvest (as harvest_resource)
                        self._top(element, site, min(site.value_mode, _DECADES), keys)
                    elif element is not None:
                        self._top(element, site, site.value_mode, keys)
            elif value is not None:
                self._top(value, site, site.value_mode, keys)
        if keys:
            self.harvested.update(_first_labels(keys))

    def _top(self, value: Any, site: _Site, mode: int, keys: list[HarvestKey]) -> None:
        """One element directly under the resource (or in a list there): count its memo entry, or add what it
        gives when its site does not memoise."""
        if not site.memo:
            if isinstance(value, dict):
                self._walk(value, site, self._leaves, self._decades, keys)
            else:
                self._value(value, site, mode, self._leaves, self._decades, keys)
            return
        memo_key = (site, value if isinstance(value, str) else orjson.dumps(value), mode)
        entry = self._memo.get(memo_key)
        site.looked_up(entry is not None)
        if entry is None:
            entry = self._old.pop(memo_key, None)
            if entry is None:
                entry = self._new_entry(value, site, mode)
            self._remember(memo_key, entry)
        if not entry.count:
            self._used.append(entry)
            self._pending += len(entry.leaves)
        entry.count += 1
        if entry.harvest:
            keys.extend(entry.harvest)

    def _node(self, obj: dict[str, Any], site: _Site) -> _Entry:
        """The memo entry of a dict at a memoising ``site``."""
        memo_key = (site, orjson.dumps(obj), site.mode)
        entry = self._memo.get(memo_key)
        site.looked_up(entry is not None)
        if entry is None:
            entry = self._old.pop(memo_key, None)
            if entry is None:
                entry = self._new_entry(obj, site, site.mode)
            self._remember(memo_key, entry)
        return entry

    def _new_entry(self, value: Any, site: _Site, mode: int) -> _Entry:
        leaves: list[Leaf] = []
        decades: list[str] = []
        harvest: list[HarvestKey] = []
        if isinstance(value, dict):
            self._walk(value, site, leaves, decades, harvest)
        else:
            self._value(value, site, mode, leaves, decades, harvest)
        return _Entry(leaves, decades, _dedup(harvest))

    def _remember(self, memo_key: tuple[_Site, Any, int], entry: _Entry) -> None:
        if len(self._memo) >= _MEMO_ENTRIES or self._stored >= _MEMO_LEAVES:
            self._old = self._memo
            self._memo = {}
            self._stored = 0
        self._memo[memo_key] = entry
        self._stored += len(entry.leaves) + 1

    def _walk(
        self,
        obj: dict[str, Any],
        site: _Site,
        leaves: list[Leaf],
        decades: list[str],
        harvest: list[HarvestKey],
    ) -> None:
        """What a dict at ``site`` gives (in ``site.mode``), memoised dicts inside it looked up."""
        mode = site.mode
        if mode == _HARVEST and not CLASSIFIED_KEYS.isdisjoint(obj):
            harvest.extend(_keys(_classify(obj, site.rtype, site.path), site.rtype))
        for key, value in obj.items():
            if key == "resourceType":  # not a value the changes compare, nor harvested; its decades count
                if mode:
                    decades.extend(_decades_only(value))
                continue
            child = site.child(key)
            if isinstance(value, dict):
                self._dict(value, child, leaves, decades, harvest)
            elif isinstance(value, list):
                for element in value:
                    if isinstance(element, dict):
                        self._dict(element, child, leaves, decades, harvest)
                    elif isinstance(element, list):
                        self._value(element, child, min(mode, _DECADES), leaves, decades, harvest)
                    elif element is not None:
                        self._value(element, child, mode, leaves, decades, harvest)
            elif value is not None:
                self._value(value, child, mode, leaves, decades, harvest)

    def _dict(
        self,
        obj: dict[str, Any],
        site: _Site,
        leaves: list[Leaf],
        decades: list[str],
        harvest: list[HarvestKey],
    ) -> None:
        if site.memo:
            sub = self._node(obj, site)
            leaves.extend(sub.leaves)
            if sub.decades:
                decades.extend(sub.decades)
            if sub.harvest:
                harvest.extend(sub.harvest)
        else:
            self._walk(obj, site, leaves, decades, harvest)

    def _value(
        self,
        value: Any,
        site: _Site,
        mode: int,
        leaves: list[Leaf],
        decades: list[str],
        harvest: list[HarvestKey],
    ) -> None:
        """A primitive at ``site`` in ``mode`` (or, in a list of lists, anything: walked without harvest)."""
        if isinstance(value, str):
            leaves.append((site.rtype, site.path, self.digests.of(value)))
            if mode and len(value) >= 4 and value[:4].isdigit():
                found = _match_date(value)
                if found:
                    decades.append(f"{found.group(1)[:3]}0s")
                if mode == _HARVEST and len(value) >= 10:
                    date = nz.date_key(value)
                    if date and not is_ignored("date", date):
                        label = "birth or death date" if site.key in _BIRTH_KEYS else "other full date"
                        harvest.append(("date", date, "C", label, site.rtype, site.path))
        elif isinstance(value, dict):  # in a list of lists
            self._walk_without_harvest(value, site, leaves, decades)
        elif isinstance(value, list):
            for element in value:
                if element is not None:
                    self._value(element, site, min(mode, _DECADES), leaves, decades, harvest)
        else:
            leaves.append((site.rtype, site.path, self.digests.of(value)))

    def _walk_without_harvest(
        self, obj: dict[str, Any], site: _Site, leaves: list[Leaf], decades: list[str]
    ) -> None:
        """A dict in a list of lists (not FHIR; the harvest does not look there): digests and decades only."""
        mode = min(site.mode, _DECADES)
        for key, value in obj.items():
            if key == "resourceType":
                if mode:
                    decades.extend(_decades_only(value))
                continue
            child = site.child(key)
            for element in value if isinstance(value, list) else [value]:
                if isinstance(element, dict):
                    self._walk_without_harvest(element, child, leaves, decades)
                elif element is not None:
                    self._value(element, child, mode, leaves, decades, [])

    def pending(self) -> int:
        """About how many keys a :meth:`drain` would give (value digests met so far and harvested keys)."""
        return self._pending + len(self._leaves) + len(self.harvested)

    def drain(self) -> tuple[Counter[Leaf], Counter[str]]:
        """The value digests ``(type, path, digest) -> n`` and decades ``decade -> n`` of the resources scanned since
        the last drain: each entry met, times its use count, and what the elements not memoised gave."""
        leaves: Counter[Leaf] = Counter(self._leaves)
        decades: Counter[str] = Counter(self._decades)
        self._leaves, self._decades = [], []
        for entry in self._used:
            count = entry.count
            entry.count = 0
            if count == 1:
                leaves.update(entry.leaves)
                if entry.decades:
                    decades.update(entry.decades)
            else:
                for leaf in entry.leaves:
                    leaves[leaf] += count
                for decade in entry.decades:
                    decades[decade] += count
        self._used = []
        self._pending = 0
        return leaves, decades


def _keys(items: Iterator[tuple[str, str, str, str, str]], rtype: str) -> Iterator[HarvestKey]:
    """The harvest's items (kind, norm, category, label, path) that can prove a leak, with the source type."""
    for kind, norm, category, label, path in items:
        if not is_ignored(kind, norm):
            yield (kind, norm, category, label, rtype, path)


def _dedup(keys: list[HarvestKey]) -> list[HarvestKey]:
    """``keys`` with only the first label per (kind, norm, category, path), in order."""
    if len(keys) < 2:
        return keys
    return list(_first_labels(keys))


def _first_labels(keys: list[HarvestKey]) -> Iterator[HarvestKey]:
    first: dict[tuple[str, str, str, str], HarvestKey] = {}
    for key in keys:
        first.setdefault((key[0], key[1], key[2], key[5]), key)
    return iter(first.values())


def _decades_only(value: Any) -> Iterator[str]:
    """Decades of the date strings in a value that the changes do not compare (a ``resourceType`` element)."""
    if isinstance(value, str):
        if len(value) >= 4 and value[:4].isdigit():
            found = _match_date(value)
            if found:
                yield f"{found.group(1)[:3]}0s"
    elif isinstance(value, dict):
        for element in value.values():
            yield from _decades_only(element)
    elif isinstance(value, list):
        for element in value:
            yield from _decades_only(element)
