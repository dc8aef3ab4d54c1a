"""The compiled-plan engine: one walk over each resource's JSON, a dictionary lookup per element."""

from __future__ import annotations

from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.engine.compiled.compiler import PlanCompiler
from anonymizer.engine.compiled.program import programs
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.compiled.walk import process_resource
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
        #: the run state :meth:`process_shared` reuses (replaced by a new one when a call fails)
        self._run = self._shared_run({})

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

    def process_shared(self, resource: dict[str, Any]) -> None:
        """``process(resource, None, None, shared_results=True)`` (resource scope, the result serialised at once).

        One :class:`Run` serves every call: what a finished walk leaves in it is reset here (its log and resources
        found inside are emptied by the walk; ``volatile`` is only compared within a call).
        """
        run = self._run
        run.root = resource
        run.id_before = resource.get("id")
        run._early = None
        run.late = None
        try:
            process_resource(self.compiler, resource, run)
        except BaseException:
            self._run = self._shared_run({})  # the failed walk may have left anything in it
            raise
        if run.ops:
            run.ops = set()

    def _shared_run(self, resource: dict[str, Any]) -> Run:
        return Run(resource, None, self._date_key, self._fixed_offset, None, True, self._offsets)
