"""``fhir-anonymizer``: one entry point with a subcommand per pipeline step.

Each subcommand is a module ``anonymizer.cli.<name>`` with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported lazily so ``--help`` does not start the JVM.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from anonymizer.cli.errors import EXIT_RUNTIME, EXIT_USAGE, CliError, unwrap_java_error

#: Subcommand name -> module; the order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "export": "anonymizer.cli.export",
    "deidentify": "anonymizer.cli.deidentify",
    "verify": "anonymizer.cli.verify",
    "run": "anonymizer.cli.run",
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
    try:
        args.handler(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:
        if args.verbose:
            raise
        print(f"error: {unwrap_java_error(exc)} (run with --verbose for details)", file=sys.stderr)
        raise SystemExit(EXIT_RUNTIME) from None


__all__ = ["COMMANDS", "EXIT_USAGE", "build_parser", "main"]
