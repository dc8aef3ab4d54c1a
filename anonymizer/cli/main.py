"""``fhir-anonymizer``: one entry point with a subcommand per pipeline step.

Each subcommand is a module ``anonymizer.cli.<name>`` with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported lazily so ``--help`` does not start the JVM.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from anonymizer.cli.errors import (
    EXIT_USAGE,
    LOG_FILE_ENV,
    cause_of,
    exit_code,
    failure_message,
    run_log_path,
    write_failure_log,
)
from anonymizer.errors import AnonymizerError

#: Subcommand name -> module; the order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "export": "anonymizer.cli.export",
    "deidentify": "anonymizer.cli.deidentify",
    "verify": "anonymizer.cli.verify",
    "run": "anonymizer.cli.run",
    "check-config": "anonymizer.cli.check_config",
    "views": "anonymizer.cli.views",
    "setup": "anonymizer.cli.setup",
}

log = logging.getLogger("anonymizer")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="fhir-anonymizer",
        description="FHIR Bulk Data export -> de-identification on Spark -> Delta research zone -> verification report.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging and full tracebacks (never PHI)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not part of this build
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI. Success returns; failure leaves through ``SystemExit(1|2)``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "azure", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_path = run_log_path(args.command)
    previous = os.environ.get(LOG_FILE_ENV)
    os.environ[LOG_FILE_ENV] = str(log_path)  # a local Spark session logs there (JVM warnings, task failures)
    try:
        _run(args, log_path)
    finally:  # in-process callers (tests, notebooks) get their environment back
        if previous is None:
            os.environ.pop(LOG_FILE_ENV, None)
        else:
            os.environ[LOG_FILE_ENV] = previous


def _run(args: argparse.Namespace, log_path: Path) -> None:
    """Run the subcommand; a failure becomes one safe line on stderr and its exit code (``EXIT_CODES``)."""
    try:
        args.handler(args)
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        raise SystemExit(exit_code(exc)) from None
    except Exception as exc:
        print(f"error: {failure_message(exc)}", file=sys.stderr)
        # An anticipated error's own frames are no news, what it was raised from (Spark, the OS) is; an
        # unanticipated one is all news.
        details = cause_of(exc) if isinstance(exc, AnonymizerError) else exc
        if details is not None:
            _details(details, log_path, verbose=args.verbose)
        raise SystemExit(exit_code(exc)) from None


def _details(exc: BaseException, log_path: Path, *, verbose: bool) -> None:
    """The stack traces: on the terminal with -v, else in the log file (its path printed)."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    elif write_failure_log(log_path, exc):
        print(f"details (stack traces): {log_path}; -v prints them here", file=sys.stderr)


__all__ = ["COMMANDS", "EXIT_USAGE", "build_parser", "main"]
