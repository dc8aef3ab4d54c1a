"""``fhir-anonymizer verify``: compare the landing data with the research zone and prove no identifier got through."""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

from anonymizer.cli.check_config import add_allow_dead_rules
from anonymizer.cli.errors import CliError, UsageError
from anonymizer.cli.spark_options import add_spark_options, session_from_args

log = logging.getLogger("anonymizer.verify")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``verify`` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="compare source and research zone; leak audit; Safe Harbor checklist; report.json/html",
        description=(
            "Counts per resource type, changes per element path, a leak audit of every identifying "
            "source value against the whole research zone, per-config precision checks and the HIPAA "
            "Safe Harbor checklist. Exit status 1 when a leak or precision violation is found or the "
            "counts do not reconcile. The report contains no identifying values."
        ),
    )
    parser.add_argument(
        "--source", required=True, help="landing folder of NDJSON files (.ndjson, .ndjson.gz)"
    )
    parser.add_argument(
        "--output", required=True, help="research zone (DIR/delta/<Type>, DIR/run-summary.json)"
    )
    parser.add_argument("--config", required=True, help="the rules file the research zone was produced with")
    parser.add_argument("--report", required=True, help="folder for report.json and report.html")
    parser.add_argument(
        "--quarantine",
        default=None,
        help="quarantine folder; default: quarantine counts from run-summary.json",
    )
    parser.add_argument(
        "--as-of", default=None, help="reference date YYYY-MM-DD for the age checks (default: the run's)"
    )
    add_allow_dead_rules(parser)
    add_spark_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run the verification, print where the report is, and fail (exit 1) when it does not pass."""
    from anonymizer.config.lint import check_before_run
    from anonymizer.spark.zone_fs import has_scheme
    from anonymizer.verify.pipeline import VerifyRequest, run_verify

    as_of = _parse_date(args.as_of) if args.as_of else None
    # URIs (file:, abfss://, dbfs:/) are checked by Spark when read; plain paths here, for a quick usage error.
    for label, path in (("--source", args.source), ("--output", args.output), ("--config", args.config)):
        if not has_scheme(path) and not Path(path).exists():
            raise UsageError(f"{label} path does not exist: {path}")
    request = VerifyRequest(
        source=args.source,
        output=args.output,
        config=args.config,
        report_dir=args.report,
        quarantine=args.quarantine,
        as_of=as_of,
        allow_dead_rules=args.allow_dead_rules,
    )
    check_before_run(args.config, allow_dead_rules=args.allow_dead_rules, what="verification")  # before Spark
    spark = session_from_args(args, app_name="fhir-anonymizer verify")
    result = run_verify(request, spark=spark)
    verdict = result.report["verdict"]
    print(f"report: {result.report_json}")
    print(f"report: {result.report_html}")
    print(
        f"leaks: {verdict['leaks']}, precision violations: {verdict['precision_violations']}, "
        f"counts reconciled: {'yes' if verdict['counts_reconciled'] else 'no'}"
    )
    for file in result.report["counts"].get("unreadable_files", []):
        print(f"  {file['status']}: {file['path']} ({file['size']:,} bytes): {file['reason']}")
    for item in result.report["checklist"]:
        if item["status"] == "found":
            print(f"  category {item['category']} ({item['title']}): {item['detail']}")
    if not result.passed:
        raise CliError("verification failed: " + "; ".join(verdict["reasons"]))
    print("verification passed")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of expects YYYY-MM-DD, got {text!r}") from None
