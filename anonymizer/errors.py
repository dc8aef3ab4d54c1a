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


#: What a method's value algorithm raises on a value it cannot handle (a malformed date, a non-numeric age).
VALUE_FAILURES: tuple[type[Exception], ...] = (ValueError, TypeError, ArithmeticError)


def method_failed(rule_label: str, method: str, path: str, exc: BaseException) -> InvalidInputError:
    """The error for a rule whose method failed on an element: rule, method and path, never the value."""
    return InvalidInputError(f"{rule_label}: {method} failed on {path} ({type(exc).__name__})")
