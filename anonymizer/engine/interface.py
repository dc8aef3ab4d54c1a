"""The engine interface, and the choice of engine made once per configuration.

Both engines apply the same kernel operations (:mod:`anonymizer.engine.kernel`) and give byte-identical output;
the compiled plans are many times faster, the node-tree engine implements every construct. A configuration
runs on compiled plans unless :func:`~anonymizer.engine.compiled.program.fallback_reasons` names a rule they
cannot run; the reasons are logged once per :class:`~anonymizer.engine.facade.Anonymizer` and reported in
:attr:`~anonymizer.engine.facade.Anonymizer.engine_report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from anonymizer.config import RuleConfig
from anonymizer.engine.compiled.engine import CompiledEngine
from anonymizer.engine.compiled.program import fallback_reasons
from anonymizer.engine.kernel.labels import Hits
from anonymizer.engine.kernel.values import OpSettings
from anonymizer.engine.reference.engine import ReferenceEngine
from anonymizer.fhir.model import TypeModel

log = logging.getLogger(__name__)

SWITCHED_OFF = "compiled plans switched off"


class Engine(Protocol):
    """Applies a configuration's rules to one validated top-level resource, in place."""

    name: str

    def process(
        self,
        resource: dict[str, Any],
        prefix: str | None,
        patient_identifiers: Any,
        *,
        shared_results: bool = False,
    ) -> None:
        """Anonymize ``resource`` (date-shift ``prefix`` fixed per call, or ``None`` for resource scope).

        ``shared_results``: the caller serialises the result at once and never changes it, so parts of it may be
        objects shared with other results (the compiled engine's memo hands them out without copying).
        """


@dataclass(frozen=True)
class EngineChoice:
    """Which engine a configuration runs on, and why not on compiled plans (empty: it does)."""

    name: str
    fallback_reasons: tuple[str, ...]

    def report(self) -> dict[str, Any]:
        """JSON-ready: ``{"engine": ..., "fallback_reasons": [...]}`` (rule numbers and paths, no values)."""
        return {"engine": self.name, "fallback_reasons": list(self.fallback_reasons)}


def choose_engine(rules: tuple[RuleConfig, ...], model: TypeModel, *, compiled: bool = True) -> EngineChoice:
    """Choose once per configuration; logs the fallback reasons (once per call: call it once per run)."""
    reasons = fallback_reasons(rules, model) if compiled else (SWITCHED_OFF,)
    if reasons and compiled:
        log.warning(
            "the configuration runs on the node-tree engine (slower) instead of compiled plans: %s",
            "; ".join(reasons),
        )
    return EngineChoice("reference" if reasons else "compiled", reasons)


def build_engine(
    choice: EngineChoice, rules: tuple[RuleConfig, ...], model: TypeModel, settings: OpSettings, hits: Hits
) -> Engine:
    """The engine ``choice`` names, over ``rules`` (``hits`` counts the elements each rule changes)."""
    if choice.name == "compiled":
        return CompiledEngine(rules, model, settings, hits)
    return ReferenceEngine(rules, model, settings, hits)
