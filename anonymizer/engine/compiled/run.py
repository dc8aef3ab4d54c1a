"""State of one top-level ``anonymize`` call on compiled plans: labels, resources found inside, date offsets."""

from __future__ import annotations

from typing import Any

from anonymizer.engine.compiled.changes import Changes
from anonymizer.engine.kernel.offsets import date_offset
from anonymizer.methods.date_shift import fold_offset

__all__ = ["Run"]

#: Offsets remembered per engine (by prefix: the resource id in resource scope), all forgotten beyond it. A memo:
#: in resource scope a prefix recurs only when an id does (every resource of an export has its own), so a small
#: bound loses nothing there and keeps a long task's memory flat (65,536 64-character ids held about 13 MB).
OFFSETS_LIMIT = 4_096


class Run:
    """State of one top-level ``anonymize`` call."""

    __slots__ = ("root", "ops", "log", "volatile", "shared", "subs", "prefix", "date_key", "fixed_offset", "id_before",
                 "early_until", "_early", "late", "patient_identifiers", "offsets")  # fmt: skip

    def __init__(self, root: dict[str, Any], prefix: str | None, date_key: str, fixed_offset: int | None,
                 patient_identifiers: Any = None, shared: bool = False,
                 offsets: dict[str, int] | None = None) -> None:  # fmt: skip
        self.root = root
        #: the change ids of the current resource (:mod:`anonymizer.engine.compiled.changes`)
        self.ops: set[int] = set()
        #: the changes made since the last flush, as change ids (see :meth:`flush`)
        self.log: list[int] = []
        #: changes that depend on more than the value and its position (the resource's date offset, the
        #: patient's identifiers, randomness): a subtree walked while this grew is not memoised
        self.volatile = 0
        #: the result is serialised at once: memoised elements may be shared objects (see Engine.process)
        self.shared = shared
        self.subs: list[tuple[dict[str, Any], str]] = []
        self.prefix = prefix
        self.date_key = date_key
        self.fixed_offset = fixed_offset
        self.id_before = root.get("id")
        #: during the root's own walk, rules up to this index saw the id before its owning rule changed it
        self.early_until: int | None = None
        self._early: int | None = None
        #: the offset of rules after the id's owner, once known (read inline by generated code, see .shapes)
        self.late: int | None = None
        self.patient_identifiers = patient_identifiers
        #: prefix -> its offset (the engine's, shared by its runs: ``date_key`` is fixed per engine)
        self.offsets: dict[str, int] = {} if offsets is None else offsets

    def __repr__(self) -> str:  # no values, no keys
        return f"Run(ops={sorted(self.ops)})"

    def flush(self, changes: Changes) -> None:
        """Move the logged changes into the current resource's operations and towards the rule hits."""
        log = self.log
        if log:
            self.ops.update(log)
            changes.record(log)
            log.clear()

    def offset_for(self, rule_index: int) -> Any:
        """The date-shift offset source a rule with ``rule_index`` sees (a zero-argument callable)."""
        if self.early_until is not None and rule_index <= self.early_until:
            return self._offset_early
        return self._offset_late

    def offset_value(self, rule_index: int) -> int:
        """The date-shift offset a rule with ``rule_index`` sees (as :meth:`offset_for` gives it)."""
        if self.early_until is not None and rule_index <= self.early_until:
            early = self._early
            return early if early is not None else self._offset_early()
        late = self.late
        if late is None:  # (date_offset, inlined)
            late = self.fixed_offset
            if late is None:
                prefix = self.prefix
                if prefix is None:
                    prefix = self.root.get("id")
                    if prefix.__class__ is not str:
                        prefix = prefix if isinstance(prefix, str) else ""
                offsets = self.offsets
                late = offsets.get(prefix)
                if late is None:
                    if len(offsets) >= OFFSETS_LIMIT:
                        offsets.clear()
                    late = offsets[prefix] = fold_offset(prefix, self.date_key)
            self.late = late
        return late

    def _offset_early(self) -> int:
        if self._early is None:
            self._early = self._offset(self.id_before)
        return self._early

    def _offset_late(self) -> int:
        if self.late is None:
            self.late = self._offset(self.root.get("id"))
        return self.late

    def _offset(self, rid: Any) -> int:
        return date_offset(self.fixed_offset, self.prefix, rid, self.date_key)
