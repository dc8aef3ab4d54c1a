"""SQL on FHIR v2 ViewDefinitions compiled to native Spark SQL over the research zone.

``evaluate(view, resources)`` runs a view over a list of resources; ``run(view, research_zone, spark)`` over a
research zone; ``parse_view`` validates a definition. See docs/views.md.
"""

from anonymizer.views.definition import ViewDef
from anonymizer.views.errors import ViewDefinitionError, ViewEvaluationError
from anonymizer.views.runner import evaluate, run
from anonymizer.views.validate import parse_view

#: Python UDFs the compiler uses (the goal, and the state, is none).
PYTHON_UDFS: tuple[str, ...] = ()

__all__ = [
    "PYTHON_UDFS",
    "ViewDef",
    "ViewDefinitionError",
    "ViewEvaluationError",
    "evaluate",
    "parse_view",
    "run",
]
