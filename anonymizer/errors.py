"""Errors raised by the engine. Messages name rules, paths and problems, never resource values or keys."""

from __future__ import annotations


class AnonymizerError(Exception):
    """Base class of every engine error."""


class ConfigError(AnonymizerError):
    """The configuration is invalid or cannot be used (Microsoft's AnonymizerConfigurationException)."""


class ProcessingError(AnonymizerError):
    """A rule failed on one resource at run time; ``processingErrors: skip`` applies (AnonymizerProcessingException)."""


class InvalidInputError(AnonymizerError):
    """The input is not a FHIR R4 resource the engine can process (InvalidInputException); never skipped."""


class RuleNotApplicableError(AnonymizerError):
    """A rule reached a node its method cannot handle, e.g. generalize on a complex type."""
