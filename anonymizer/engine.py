"""``Anonymizer``: apply a rules configuration to FHIR resources (pure Python, no Spark).

For every resource reached (the root, Bundle entries, contained resources) the rules that apply to its type are
applied in configuration order; each element is changed by at most one rule (the first that reaches it), and
a rule applies to the matched element and all its non-resource descendants. Emptied elements are pruned and
security labels added to ``meta.security``, as Microsoft's FHIR anonymizer does.
"""

from __future__ import annotations

import collections
import copy
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from anonymizer.config import AnonymizerConfig, RuleConfig, load_config
from anonymizer.errors import (
    VALUE_FAILURES,
    InvalidInputError,
    ProcessingError,
    method_failed,
)
from anonymizer.fhir.model import r4
from anonymizer.fhir.patient import patient_id
from anonymizer.fhir.prune import prune
from anonymizer.fhir.tree import Node, resource_node
from anonymizer.fhirpath.compiler import CompiledPath, compile_path
from anonymizer.fhirpath.evaluate import ResourceIndex, match
from anonymizer.labels import add_security_labels
from anonymizer.plan.compiler import PlanCompiler
from anonymizer.plan.program import programs, unsupported_reason
from anonymizer.plan.text_ops import scrub_text_op
from anonymizer.plan.value_ops import OpSettings, Position, ValueFn, value_op
from anonymizer.plan.walk import Run, process_resource
from anonymizer.processors import Context, apply_method, mark_subtree, where_predicate

__all__ = ["Anonymizer"]


class Anonymizer:
    """De-identify FHIR R4 resources with a Microsoft-format rules configuration.

    Example::

        anon = Anonymizer.from_config_file("configs/hipaa-safe-harbor.json", as_of=date(2026, 1, 1))
        out = anon.anonymize(resource)            # the dict is changed in place and returned
        line = anon.anonymize_json(ndjson_line)   # processingErrors=skip applies here
    """

    def __init__(self, config: AnonymizerConfig, *, as_of: date | None = None, compiled: bool = True) -> None:
        """``compiled=False`` forces the node-tree engine (the reference the compiled plans are tested against)."""
        self.config = config
        self.as_of = as_of or datetime.now(UTC).date()
        self.rule_hits: collections.Counter[tuple[int, str]] = collections.Counter()
        self._plans: dict[str, list[tuple[RuleConfig, CompiledPath | None]]] = {}
        self._compiled = [(rule, compile_path(rule.path) if rule.path else None) for rule in config.rules]
        #: why this configuration runs on the node-tree engine (``None``: it runs on compiled plans)
        self.tree_engine_reason: str | None = (
            unsupported_reason(config.rules, r4()) if compiled else "compiled plans switched off"
        )

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

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_context_base", None)
        for cached in ("_plan_compiler", "_op_settings", "_tree_ops"):  # hold keys: rebuilt after unpickling
            state.pop(cached, None)
        state["_plans"] = {}
        return state

    @property
    def processing_errors(self) -> str:
        """``raise`` or ``skip``."""
        return self.config.processing_errors

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the configuration without key values."""
        return self.config.fingerprint

    @cached_property
    def _context_base(self) -> dict[str, Any]:
        p = self.config.parameters
        return {
            "date_shift_key": p.date_shift_key.value,
            "crypto_hash_key": p.crypto_hash_key.value,
            "encrypt_key": p.encrypt_key.value,
        }

    @cached_property
    def _op_settings(self) -> OpSettings:
        base = self._context_base
        return OpSettings(
            params=self.config.parameters,
            as_of=self.as_of,
            crypto_hash_key=base["crypto_hash_key"],
            encrypt_key=base["encrypt_key"],
            resource_types=r4().resource_types,
        )

    @cached_property
    def _plan_compiler(self) -> PlanCompiler:
        return PlanCompiler(
            programs(self.config.rules), r4(), self._op_settings, self.rule_hits, scrub_text_op
        )

    def _value_op(self, method: str, position: Position, hash_format: str = "hex") -> ValueFn | None:
        """The node-tree engine's per-value operations, one per (method, position, format) as in the plans."""
        cache = self.__dict__.setdefault("_tree_ops", {})
        key = (method, position, hash_format)
        if key not in cache:
            cache[key] = value_op(method, position, self._op_settings, hash_format)
        return cache[key]

    def plan(self, resource_type: str) -> list[tuple[RuleConfig, CompiledPath | None]]:
        """The rules that apply to ``resource_type``, in order (compiled once per type)."""
        plan = self._plans.get(resource_type)
        if plan is None:
            plan = [(rule, cp) for rule, cp in self._compiled if cp is None or cp.applies_to(resource_type)]
            self._plans[resource_type] = plan
        return plan

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
        """Anonymize one resource in place and return it; raises on any failure (never applies ``skip``).

        ``patient_identifiers`` (``anonymizer.text.identifiers.PatientIdentifiers``) lets ``scrubText`` rules remove
        the patient's own names, telecom, address parts and identifiers from free text.
        """
        if not isinstance(resource, dict):
            raise InvalidInputError("The input FHIR resource JSON is invalid: not a JSON object")
        resource_type = resource.get("resourceType")
        model = r4()
        if not isinstance(resource_type, str) or resource_type not in model.resource_types:
            raise InvalidInputError(
                "The input FHIR resource JSON is invalid: unknown or missing resourceType"
            )
        p = self.config.parameters
        base = self._context_base
        prefix = self._prefix(resource, source_file, source_folder)
        if self.tree_engine_reason is None:
            run = Run(
                resource, prefix, base["date_shift_key"], p.date_shift_fixed_offset, patient_identifiers
            )
            process_resource(self._plan_compiler, resource, run)
            return resource
        ctx = Context(
            params=p,
            as_of=self.as_of,
            model=model,
            root=resource,
            visited=set(),
            date_shift_key=base["date_shift_key"],
            crypto_hash_key=base["crypto_hash_key"],
            encrypt_key=base["encrypt_key"],
            prefix=prefix,
            hits=self.rule_hits,
            value_op=self._value_op,
            patient_identifiers=patient_identifiers,
        )
        self._process_resource(resource_node(resource), ctx, None)
        prune(resource)
        return resource

    def anonymize_json(
        self, line: str | bytes, *, source_file: str | None = None, source_folder: str | None = None
    ) -> str:
        """Anonymize one JSON resource text (compact output); ``processingErrors: skip`` applies."""
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InvalidInputError("The input FHIR resource JSON is invalid: not valid JSON") from None
        original_type = resource.get("resourceType") if isinstance(resource, dict) else None
        try:
            out = self.anonymize(resource, source_file=source_file, source_folder=source_folder)
        except ProcessingError:
            if self.processing_errors != "skip" or not isinstance(original_type, str):
                raise
            out = self.empty_resource(original_type)
        return orjson.dumps(out).decode("utf-8")

    # -- internals ------------------------------------------------------------------------------------
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

    def _process_resource(self, node: Node, ctx: Context, parent_ops: set[str] | None) -> None:
        ops: set[str] = set()
        index = ResourceIndex(node, ctx.model)
        predicate = where_predicate(ctx)
        for rule, compiled in self.plan(node.fhir_type):
            targets = (
                match(compiled, index, predicate) if compiled is not None else _json_path_nodes(rule, index)
            )
            for target in targets:
                try:
                    self._apply_recursive(target, rule, ctx, ops)
                except VALUE_FAILURES as exc:
                    raise method_failed(rule.label, rule.method, target.path, exc) from None
        for sub in index.all_nodes()[1:]:
            if sub.is_resource:
                self._process_resource(sub, ctx, ops)
        if parent_ops is not None:
            parent_ops |= ops
        if node.name != "contained":
            add_security_labels(node.value, ops)

    def _apply_recursive(self, node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
        from anonymizer.fhir.tree import children

        stack = [node]
        while stack:
            current = stack.pop()
            if current.location in ctx.visited:
                continue
            marks_subtree = apply_method(current, rule, ctx, ops)
            ctx.visited.add(current.location)
            if marks_subtree:
                mark_subtree(current, ctx)
                continue
            stack.extend(reversed([c for c in children(current, ctx.model) if not c.is_resource]))


def _json_path_nodes(rule: RuleConfig, index: ResourceIndex) -> list[Node]:
    """Our ``jsonPath`` extension: nodes whose JSON location a JSONPath selects."""
    from anonymizer.fhirpath.json_path import select

    return select(rule.json_path or "", index)


def deep_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy to anonymize when the caller must keep the original."""
    return copy.deepcopy(resource)
