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
from anonymizer.errors import AnonymizerError, InvalidInputError, ProcessingError
from anonymizer.fhir.model import r4
from anonymizer.fhir.patient import patient_id
from anonymizer.fhir.tree import Node, resource_node
from anonymizer.fhirpath.compiler import CompiledPath, compile_path
from anonymizer.fhirpath.evaluate import ResourceIndex, match
from anonymizer.labels import add_security_labels
from anonymizer.processors import Context, apply_method, mark_subtree, where_predicate

__all__ = ["Anonymizer"]


class Anonymizer:
    """De-identify FHIR R4 resources with a Microsoft-format rules configuration.

    Example::

        anon = Anonymizer.from_config_file("configs/hipaa-safe-harbor.json", as_of=date(2026, 1, 1))
        out = anon.anonymize(resource)            # the dict is changed in place and returned
        line = anon.anonymize_json(ndjson_line)   # processingErrors=skip applies here
    """

    def __init__(self, config: AnonymizerConfig, *, as_of: date | None = None) -> None:
        self.config = config
        self.as_of = as_of or datetime.now(UTC).date()
        self.rule_hits: collections.Counter[tuple[int, str]] = collections.Counter()
        self._plans: dict[str, list[tuple[RuleConfig, CompiledPath | None]]] = {}
        self._compiled = [(rule, compile_path(rule.path) if rule.path else None) for rule in config.rules]

    @classmethod
    def from_config_file(
        cls,
        path: str | Path,
        *,
        as_of: date | None = None,
        allow_ephemeral_keys: bool = False,
        keys_from: str | None = None,
    ) -> Anonymizer:
        """Load a rules file (keys by reference: env:, file:, dbsecret:, keyvault:; ``keys_from`` overrides them)."""
        return cls(
            load_config(path, allow_ephemeral_keys=allow_ephemeral_keys, keys_from=keys_from), as_of=as_of
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], *, as_of: date | None = None, allow_ephemeral_keys: bool = False,
                    base_dir: str | Path | None = None) -> Anonymizer:  # fmt: skip
        """Build from an already parsed configuration dict."""
        return cls(
            load_config(config, allow_ephemeral_keys=allow_ephemeral_keys, base_dir=base_dir), as_of=as_of
        )

    def __repr__(self) -> str:
        return f"Anonymizer(rules={len(self.config.rules)}, fingerprint={self.fingerprint[:12]}, as_of={self.as_of})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_context_base", None)
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
        ctx = Context(
            params=p,
            as_of=self.as_of,
            model=model,
            root=resource,
            visited=set(),
            date_shift_key=base["date_shift_key"],
            crypto_hash_key=base["crypto_hash_key"],
            encrypt_key=base["encrypt_key"],
            prefix=self._prefix(resource, source_file, source_folder),
            hits=self.rule_hits,
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
                except AnonymizerError:
                    raise
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise InvalidInputError(
                        f"{rule.label}: {rule.method} failed on {target.path} ({type(exc).__name__})"
                    ) from None
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


def prune(value: Any) -> Any:
    """Remove nulls, empty objects and arrays left by redaction (resources themselves are never removed)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                prune(item)
        value[:] = [v for v in value if not _empty(v)]
        return value
    if not isinstance(value, dict):
        return value
    for key in list(value):
        if key.startswith("_") or key not in value:
            continue
        item, holder = value[key], value.get("_" + key)
        if isinstance(holder, dict | list):
            prune(holder)
        if isinstance(item, list) and isinstance(holder, list):
            for element in item:
                if isinstance(element, dict | list):
                    prune(element)
            keep = [
                i for i, v in enumerate(item) if not _empty(v) or (i < len(holder) and not _empty(holder[i]))
            ]
            value[key] = [item[i] for i in keep]
            value["_" + key] = [holder[i] if i < len(holder) else None for i in keep]
        elif isinstance(item, dict | list):
            prune(item)
        if _empty(value[key]):
            del value[key]
    for key in [k for k in value if k.startswith("_")]:
        holder = value[key]
        if _empty(holder) or (isinstance(holder, list) and all(_empty(h) for h in holder)):
            del value[key]
    return value


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, list | dict) and not v)


def deep_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy to anonymize when the caller must keep the original."""
    return copy.deepcopy(resource)
