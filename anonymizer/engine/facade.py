"""``Anonymizer``: apply a rules configuration to FHIR resources (pure Python, no Spark).

For every resource reached (the root, Bundle entries, contained resources) the rules that apply to its type are
applied in configuration order; each element is changed by at most one rule (the first that reaches it), and
a rule applies to the matched element and all its non-resource descendants. Emptied elements are pruned and
security labels added to ``meta.security``, as Microsoft's FHIR anonymizer does. Which engine does the work is
chosen once per configuration (:mod:`anonymizer.engine.interface`).
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from anonymizer.config import AnonymizerConfig, load_config, resolve_keys
from anonymizer.engine.interface import Engine, EngineChoice, build_engine, choose_engine
from anonymizer.engine.kernel.labels import add_security_labels
from anonymizer.engine.kernel.resources import resource_type_of
from anonymizer.engine.kernel.values import OpSettings
from anonymizer.errors import InvalidInputError, ProcessingError
from anonymizer.fhir.model import r4
from anonymizer.fhir.patient import patient_id

__all__ = ["Anonymizer", "deep_copy"]


class Anonymizer:
    """De-identify FHIR R4 resources with a Microsoft-format rules configuration.

    Example::

        anon = Anonymizer.from_config_file("configs/hipaa-safe-harbor.json", as_of=date(2026, 1, 1))
        out = anon.anonymize(resource)            # the dict is changed in place and returned
        line = anon.anonymize_json(ndjson_line)   # the same, from and to JSON text

    Both apply the configuration's ``processingErrors`` (``skip``: a resource whose processing fails becomes
    :meth:`empty_resource`); :meth:`anonymize_raising` raises instead, whatever the configuration says.
    """

    def __init__(self, config: AnonymizerConfig, *, as_of: date | None = None, compiled: bool = True) -> None:
        """``compiled=False`` forces the node-tree engine (the reference the compiled plans are tested against)."""
        self.config = config
        self.as_of = as_of or datetime.now(UTC).date()
        self._rule_hits: collections.Counter[tuple[int, str]] = collections.Counter()
        keys = resolve_keys(config)  # the only place keys are read; never logged
        #: Names of the keys a rule uses that are random for this engine only (``allow_ephemeral_keys``).
        self.ephemeral_keys: tuple[str, ...] = keys.ephemeral
        self._settings = OpSettings(
            params=config.parameters,
            as_of=self.as_of,
            date_shift_key=keys.date_shift_key.value,
            crypto_hash_key=keys.crypto_hash_key.value,
            encrypt_key=keys.encrypt_key.value,
            resource_types=r4().resource_types,
        )
        self._choice: EngineChoice = choose_engine(config.rules, r4(), compiled=compiled)
        self._resource_scope = config.parameters.date_shift_scope not in ("file", "folder", "patient")
        self._resource_types = r4().resource_types

    @classmethod
    def from_config_file(
        cls,
        path: str | Path,
        *,
        as_of: date | None = None,
        allow_ephemeral_keys: bool = False,
        keys_from: str | None = None,
        compiled: bool = True,
        allow_weak_test_keys: bool = False,
    ) -> Anonymizer:
        """Load a rules file (keys by reference: env:, file:, dbsecret:, keyvault:; ``keys_from`` overrides them).

        ``allow_weak_test_keys`` accepts short or repeated keys (Microsoft's test fixtures only).
        """
        return cls(
            load_config(
                path,
                allow_ephemeral_keys=allow_ephemeral_keys,
                keys_from=keys_from,
                allow_weak_test_keys=allow_weak_test_keys,
            ),
            as_of=as_of,
            compiled=compiled,
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], *, as_of: date | None = None, allow_ephemeral_keys: bool = False,
                    base_dir: str | Path | None = None, compiled: bool = True,
                    allow_weak_test_keys: bool = False) -> Anonymizer:  # fmt: skip
        """Build from an already parsed configuration dict (``allow_weak_test_keys``: test fixtures only)."""
        return cls(
            load_config(
                config,
                allow_ephemeral_keys=allow_ephemeral_keys,
                base_dir=base_dir,
                allow_weak_test_keys=allow_weak_test_keys,
            ),  # fmt: skip
            as_of=as_of,
            compiled=compiled,
        )

    def __repr__(self) -> str:
        return f"Anonymizer(rules={len(self.config.rules)}, fingerprint={self.fingerprint[:12]}, as_of={self.as_of})"

    @property
    def rule_hits(self) -> collections.Counter[tuple[int, str]]:
        """Elements changed per ``(rule index, method)`` by this instance (the same ``Counter`` every time)."""
        engine = self.__dict__.get("_engine")
        sync = getattr(engine, "sync_hits", None)  # the compiled engine counts its changes in bulk
        if sync is not None:
            sync()
        return self._rule_hits

    def __getstate__(self) -> dict[str, Any]:
        self.rule_hits  # noqa: B018 - count pending changes before the engine is dropped
        state = self.__dict__.copy()
        state.pop("_engine", None)  # plans and memos: rebuilt after unpickling
        state.pop("_process_shared", None)  # (bound to the engine)
        return state

    def release_engine(self) -> None:
        """Drop the plans and memos this instance built (rebuilt on next use, as after unpickling); the rule hits
        counted so far are kept. For a process that stays alive idle after its work, e.g. a reused Spark Python
        worker at the end of its task."""
        self.rule_hits  # noqa: B018 - count pending changes before the engine is dropped
        self.__dict__.pop("_engine", None)
        self.__dict__.pop("_process_shared", None)

    @property
    def processing_errors(self) -> str:
        """``raise`` or ``skip``."""
        return self.config.processing_errors

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the configuration without key values."""
        return self.config.fingerprint

    @property
    def tree_engine_reason(self) -> str | None:
        """Why this configuration runs on the node-tree engine (``None``: it runs on compiled plans)."""
        reasons = self._choice.fallback_reasons
        return "; ".join(reasons) if reasons else None

    @property
    def engine_report(self) -> dict[str, Any]:
        """``{"engine": "compiled" | "reference", "fallback_reasons": [...]}`` for a run summary (no values)."""
        return self._choice.report()

    @cached_property
    def _engine(self) -> Engine:
        return build_engine(self._choice, self.config.rules, r4(), self._settings, self._rule_hits)

    @cached_property
    def _process_shared(self) -> Callable[[dict[str, Any], str], None]:
        """``(resource, its checked resource type)`` -> ``_engine.process(resource, None, None,
        shared_results=True)``: resource scope, the result serialised at once."""
        engine = self._engine
        make = getattr(engine, "shared_processor", None)
        if make is not None:
            fast: Callable[[dict[str, Any], str], None] = make()
            return fast
        return lambda resource, _type: engine.process(resource, None, None, shared_results=True)

    def empty_resource(self, resource_type: str) -> dict[str, Any]:
        """Microsoft's ``skip`` output: the resource type and a REDACTED label, nothing else."""
        out: dict[str, Any] = {"resourceType": resource_type}
        add_security_labels(out, {"REDACT"})
        return out

    def anonymize(
        self,
        resource: dict[str, Any],
        *,
        source_file: str | None = None,
        source_folder: str | None = None,
        patient_identifiers: Any = None,
    ) -> dict[str, Any]:
        """Anonymize one resource in place and return it; ``processingErrors: skip`` applies.

        Under ``skip`` a resource whose processing fails is replaced, in place, by :meth:`empty_resource`.
        ``patient_identifiers`` (``anonymizer.text.identifiers.PatientIdentifiers``) lets ``scrubText`` rules
        remove the patient's own names, telecom, address parts and identifiers from free text.
        """
        return self._anonymize(resource, source_file, source_folder, patient_identifiers, False, False)

    def anonymize_raising(
        self,
        resource: dict[str, Any],
        *,
        source_file: str | None = None,
        source_folder: str | None = None,
        patient_identifiers: Any = None,
        shared: bool = False,
    ) -> dict[str, Any]:
        """As :meth:`anonymize`, but raises on every failure (never applies ``skip``): for callers that handle
        :class:`ProcessingError` themselves (the Spark transform quarantines the line and writes the skip output).

        ``shared=True`` is for a caller that only reads the result and serialises it at once (as
        :meth:`anonymize_json` does): it may share objects with earlier results (memoised elements are not copied),
        so it must not be changed or kept. After a failure ``resource`` may be half-processed.
        """
        if shared and patient_identifiers is None and resource.__class__ is dict and self._resource_scope:
            original_type = resource.get("resourceType")  # the common case (_anonymize, inlined)
            if original_type.__class__ is str and original_type in self._resource_types:
                self._process_shared(resource, original_type)
                return resource
        return self._anonymize(resource, source_file, source_folder, patient_identifiers, True, shared)

    def anonymize_json(
        self, line: str | bytes, *, source_file: str | None = None, source_folder: str | None = None
    ) -> str:
        """Anonymize one JSON resource text (compact output); ``processingErrors: skip`` applies."""
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InvalidInputError("The input FHIR resource JSON is invalid: not valid JSON") from None
        # The result is serialised at once and never handed out: it may share objects with earlier results.
        if resource.__class__ is dict and self._resource_scope:  # the common case (_anonymize, inlined)
            original_type = resource.get("resourceType")
            if original_type.__class__ is str and original_type in self._resource_types:
                try:
                    self._process_shared(resource, original_type)
                except ProcessingError:
                    self._skip(resource, original_type, False)
                return orjson.dumps(resource).decode("utf-8")
        out = self._anonymize(resource, source_file, source_folder, None, False, True)  # not raising, shared
        return orjson.dumps(out).decode("utf-8")

    def _anonymize(self, resource: dict[str, Any], source_file: str | None, source_folder: str | None,
                   patient_identifiers: Any, raising: bool, shared: bool) -> dict[str, Any]:  # fmt: skip
        original_type = resource.get("resourceType") if isinstance(resource, dict) else None
        try:
            resource_type_of(resource, r4())
            # resource scope (the default): the prefix is the id, read late
            prefix = None if self._resource_scope else self._prefix(resource, source_file, source_folder)
            self._engine.process(resource, prefix, patient_identifiers, shared_results=shared)
        except ProcessingError:
            self._skip(resource, original_type, raising)
        return resource

    def _skip(self, resource: dict[str, Any], original_type: Any, raising: bool) -> None:
        """Handle the :class:`ProcessingError` being raised: ``skip`` empties ``resource``, else it is re-raised."""
        if raising or self.processing_errors != "skip" or not isinstance(original_type, str):
            raise  # noqa: PLE0704 - called from an ``except`` block only
        resource.clear()  # nothing half-processed stays in the caller's dict
        resource.update(self.empty_resource(original_type))

    def _prefix(
        self, resource: dict[str, Any], source_file: str | None, source_folder: str | None
    ) -> str | None:
        """The date-shift prefix fixed per call (file/folder/patient scopes); None = resource scope (read late)."""
        scope = self.config.parameters.date_shift_scope
        if scope == "file" and source_file:
            return source_file
        if scope == "folder" and source_folder:
            return source_folder
        if scope == "patient":
            return patient_id(resource) or ""
        return None


def deep_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy to anonymize when the caller must keep the original."""
    return copy.deepcopy(resource)
