"""``fhir-anonymizer check-config CONFIG``: lint a rules file against the R4 model (no Spark, no secrets read)."""

from __future__ import annotations

import argparse
from pathlib import Path

from anonymizer.cli.errors import CliError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``check-config`` subcommand."""
    parser = subparsers.add_parser(
        "check-config",
        help="check a rules file: dead rules, shadowed rules, missing keys, Safe Harbor coverage",
        description="Check a rules file against the FHIR R4 model the engine uses: a rule whose path can never "
        "match any element is an error (with a did-you-mean), a rule fully shadowed by earlier rules (first rule "
        "wins) is a warning, a method that needs a key without one is an error; then a table of the 18 HIPAA "
        "Safe Harbor categories shows which rules act on each and which identifier-carrying elements stay "
        "unchanged. Key references are checked for presence, never resolved. Exit status: 0 no errors "
        "(warnings allowed), 1 errors, 2 usage. deidentify and verify run the same check when they start.",
    )
    parser.add_argument("config", metavar="CONFIG", help="rules file in Microsoft's anonymizer format")
    add_allow_dead_rules(parser)
    parser.add_argument(
        "--allow-ephemeral-keys",
        action="store_true",
        help="an empty key is not an error (as deidentify --allow-ephemeral-keys; throw-away runs only)",
    )
    parser.add_argument("--no-coverage", action="store_true", help="skip the Safe Harbor coverage table")
    parser.set_defaults(handler=run)


def add_allow_dead_rules(parser: argparse.ArgumentParser) -> None:
    """``--allow-dead-rules``, shared by check-config, deidentify, verify and run."""
    parser.add_argument(
        "--allow-dead-rules",
        action="store_true",
        help="report rules that can never match as warnings, not errors (for Microsoft's own test configs)",
    )


def run(args: argparse.Namespace) -> None:
    """Print the findings and the coverage table; exit 1 when there are errors."""
    from anonymizer.config.lint import lint_config
    from anonymizer.config.lint.render import render_coverage, render_findings

    if not Path(args.config).is_file():
        raise UsageError(f"no such config file: {args.config}")
    report = lint_config(
        args.config,
        allow_dead_rules=args.allow_dead_rules,
        allow_ephemeral_keys=args.allow_ephemeral_keys,
        with_coverage=not args.no_coverage,
    )
    print(f"{args.config}: {len(report.rules)} rules")
    for line in render_findings(report.findings):
        print(line)
    if report.coverage is not None:
        print()
        for line in render_coverage(report.coverage, report.rules):
            print(line)
    errors, warnings = len(report.errors), len(report.warnings)
    print(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    if errors:
        raise CliError(f"{args.config}: {_plural(errors, 'error')} (listed above)")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
