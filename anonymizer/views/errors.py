"""Errors of the views package (messages name views, columns and pseudonymized ids, never values)."""

from __future__ import annotations

from anonymizer.errors import AnonymizerError


class ViewDefinitionError(AnonymizerError, ValueError):
    """A ViewDefinition is invalid (refused before anything runs)."""


class ViewEvaluationError(AnonymizerError, RuntimeError):
    """A resource could not be evaluated by a view (names the view, the column and the resource's id)."""
