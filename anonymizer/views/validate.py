"""Full validation of a ViewDefinition: its structure, then a compile that checks constants and functions."""

from __future__ import annotations

from typing import Any

from anonymizer.views.definition import ViewDef, parse_view_structure
from anonymizer.views.rows_sql import RowsCompiler


def parse_view(view: Any) -> ViewDef:
    """Validate a ViewDefinition (a dict as in JSON); raises :class:`ViewDefinitionError` naming the problem."""
    parsed = parse_view_structure(view)
    RowsCompiler(parsed).compiled()  # compiling also checks constants and functions
    return parsed
