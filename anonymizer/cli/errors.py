"""One place that turns failures into exit codes and safe, one-line messages; stack traces go to a log file.

A failure ends with one ``error:`` line on stderr that names the file, table, rule or setting, the cause in words and
what to do (:func:`anonymizer.spark.failures.diagnose` knows the Spark, Delta and py4j failures a user can fix).
Python and Java stack traces go to the run's log file, whose path is printed; ``-v`` prints them on the terminal
instead. The log file also receives Spark's own JVM log of a local session (see ``quiet-log4j2.properties``).
"""

from __future__ import annotations

import os
import re
import traceback
from datetime import UTC, datetime
from pathlib import Path

from anonymizer.errors import AnonymizerError, UsageError
from anonymizer.views.errors import ViewDefinitionError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Folder for run logs (default ``<cache>/logs``, the cache of :func:`anonymizer.spark.jars.cache_dir`).
LOG_DIR_ENV = "FHIR_ANONYMIZER_LOG_DIR"
#: The current run's log file; a local Spark session sends its JVM log there.
LOG_FILE_ENV = "FHIR_ANONYMIZER_LOG_FILE"


class CliError(AnonymizerError):
    """A command ran and its outcome is a failure (verification did not pass, counts do not reconcile, the config
    check found errors); the message is safe to show (see :class:`~anonymizer.errors.AnonymizerError`)."""


#: The one mapping from error family to exit code (docs/design.md, "Errors and exit codes"): the first class of an
#: exception's MRO found here decides. Commands raise; only :func:`anonymizer.cli.main.main` maps.
EXIT_CODES: dict[type[BaseException], int] = {
    UsageError: EXIT_USAGE,  # an option, argument or path of the command line is wrong
    ViewDefinitionError: EXIT_USAGE,  # a ViewDefinition file given on the command line is invalid
    AnonymizerError: EXIT_RUNTIME,  # every other anticipated failure: config, input, export, Spark, zone, verify
    KeyboardInterrupt: EXIT_INTERRUPTED,
    BaseException: EXIT_RUNTIME,  # anything unanticipated (a bug, an unrecognised Spark or OS failure)
}


def exit_code(exc: BaseException) -> int:
    """The exit code of a failure, from :data:`EXIT_CODES`."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)


def failure_message(exc: BaseException) -> str:
    """The one line shown for a failure: an :class:`AnonymizerError`'s message (safe by contract), else the failure
    in words when :func:`anonymizer.spark.failures.diagnose` knows it, else its exception classes only."""
    if isinstance(exc, AnonymizerError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return one_line(exc)


def run_log_path(command: str) -> Path:
    """Where this run's log goes: ``$FHIR_ANONYMIZER_LOG_FILE``, else a new file in the log folder."""
    if os.environ.get(LOG_FILE_ENV):
        return Path(os.environ[LOG_FILE_ENV])
    from anonymizer.spark.jars import cache_dir

    folder = Path(os.environ.get(LOG_DIR_ENV) or cache_dir() / "logs")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{command}-{stamp}-{os.getpid()}.log"


def write_failure_log(path: Path, exc: BaseException) -> bool:
    """Append the full traceback of ``exc`` (and what it was raised from) to the log; False if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            os.chmod(path, 0o600)  # stack traces can name input paths
            log.write(f"--- {datetime.now(UTC).isoformat()} failure\n")
            log.write("".join(traceback.format_exception(exc, chain=True)))
        return True
    except OSError:
        return False


def cause_of(exc: BaseException) -> BaseException | None:
    """The exception an :class:`AnonymizerError` was raised from (also after ``raise ... from None``), when it is worth a
    stack trace: one of the chain comes from outside this package (Spark, py4j, the OS), not only our own checks."""
    cause = exc.__cause__ or exc.__context__
    current = cause
    while current is not None:
        if not type(current).__module__.startswith("anonymizer."):
            return cause
        current = current.__cause__ or current.__context__
    return None


def one_line(exc: BaseException) -> str:
    """The message for an exception that is not an :class:`AnonymizerError` (known failures in words)."""
    from anonymizer.spark.failures import diagnose

    return diagnose(exc) or unwrap_java_error(exc)


_JAVA_CLASS = re.compile(r"(?:^|Caused by: |: )((?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error))", re.M)
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_.]+)\]")


def unwrap_java_error(exc: BaseException) -> str:
    """An unrecognised failure by its exception classes only (their messages can quote data, so none is shown).

    ``Py4JJavaError: org.apache.spark.SparkException <- java.io.IOException [ERROR_CLASS]``.
    """
    from anonymizer.spark.failures import failure_text

    text = failure_text(exc)
    classes = list(dict.fromkeys(_JAVA_CLASS.findall(text)))[:3]
    error_class = _ERROR_CLASS.search(text)
    out = type(exc).__name__
    if classes:
        out += ": " + " <- ".join(classes)
    if error_class:
        out += f" [{error_class.group(1)}]"
    return out
