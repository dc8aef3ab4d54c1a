"""Errors of the views package (messages name views, columns and pseudonymized ids, never values)."""

from __future__ import annotations


class ViewDefinitionError(ValueError):
    """A ViewDefinition is invalid (refused before anything runs)."""


class ViewEvaluationError(RuntimeError):
    """A resource could not be evaluated by a view (names the view, the column and the resource's id)."""
