"""The package's errors: one root, :class:`AnonymizerError`, whose message is safe to show.

Every error this package raises on purpose derives from :class:`AnonymizerError` (the engine's below, and each
package's own: ``ExportError``, ``DeidentifyError``, ``ZoneError``, ``ViewDefinitionError`` ...). The command line
turns each into an exit code in one table (``anonymizer.cli.errors.EXIT_CODES``); an exception that is not an
:class:`AnonymizerError` is a failure nobody anticipated and is shown by its class names only.
"""

from __future__ import annotations


class AnonymizerError(Exception):
    """Root of every error the package raises on purpose.

    Contract: ``str(error)`` is safe to show on a terminal, in a log, a report or a scheduler's job status. It names
    files, folders, tables, rules, element paths, settings, counts and the cause, and never contains a resource value
    (PHI, including values quoted from input lines) or key material (keys, tokens, connection strings, private keys).
    The only outside text it may quote is a remote server's own reason for refusing a request (OAuth ``error``,
    OperationOutcome diagnostics, shortened), which describes the request, not patient data. Whoever raises one
    keeps to this contract; details that may hold data go into the chained exception (``raise ... from exc``), which
    the command line writes only to its private log file.
    """


class UsageError(AnonymizerError):
    """What was asked cannot be run as asked: a missing or inconsistent option, a path that does not exist."""


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
