"""The compiled-plan engine: one walk over each resource's JSON, a dictionary lookup per element."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.engine.compiled.compiler import PlanCompiler
from anonymizer.engine.compiled.process import process_resource, shared_processor
from anonymizer.engine.compiled.program import programs
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.kernel.labels import Hits
from anonymizer.engine.kernel.values import OpSettings
from anonymizer.fhir.model import TypeModel

__all__ = ["CompiledEngine"]


class CompiledEngine:
    """Rules compiled into per-position plans (only for configurations :func:`fallback_reasons` accepts)."""

    name = "compiled"

    def __init__(
        self, rules: tuple[RuleConfig, ...], model: TypeModel, settings: OpSettings, hits: Hits
    ) -> None:
        self.settings = settings
        self._date_key = settings.date_shift_key
        self._fixed_offset = settings.params.date_shift_fixed_offset
        self.compiler = PlanCompiler(programs(rules), model, settings, hits)
        self._offsets: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"CompiledEngine({self.compiler!r})"

    def sync_hits(self) -> None:
        """Count the changes still pending into the rule hits (before they are read)."""
        self.compiler.changes.sync()

    def process(
        self,
        resource: dict[str, Any],
        prefix: str | None,
        patient_identifiers: Any,
        *,
        shared_results: bool = False,
    ) -> None:
        """Anonymize a validated top-level resource in place, and prune what was emptied."""
        process_resource(
            self.compiler,
            resource,
            Run(
                resource,
                prefix,
                self._date_key,
                self._fixed_offset,
                patient_identifiers,
                shared_results,
                self._offsets,
            ),
        )

    def shared_processor(self) -> Callable[[dict[str, Any], str], None]:
        """``process(resource, None, None, shared_results=True)`` as one function of ``(resource, resource_type)``
        (resource scope; the result serialised at once), for a resource whose type the caller checked."""
        return shared_processor(
            self.compiler,
            lambda: Run({}, None, self._date_key, self._fixed_offset, None, True, self._offsets),
        )
