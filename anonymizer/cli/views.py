"""``fhir-anonymizer views``: materialize SQL on FHIR v2 ViewDefinitions as Delta tables, or run the conformance suite.

fhir-anonymizer views --research RESEARCH --views views/ [--output DIR] [--mode overwrite|merge]
fhir-anonymizer views conformance TESTS_DIR --report FILE [--resource-format json|variant]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from anonymizer.cli.errors import CliError, UsageError
from anonymizer.cli.spark_options import add_spark_options, session_from_args
from anonymizer.spark.resource_format import DEFAULT_RESOURCE_FORMAT, RESOURCE_FORMATS
from anonymizer.spark.settings import VIEWS_LOCAL_CONF

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTER_VIEWS = REPO_ROOT / "views"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``views`` and its ``conformance`` subcommand."""
    parser = subparsers.add_parser(
        "views",
        help="materialize SQL on FHIR ViewDefinitions as Delta tables RESEARCH/views/<name>",
        description="Compile SQL on FHIR v2 ViewDefinitions to Spark SQL and write each as a Delta table "
        "<output>/views/<view name> (one atomic commit per view, with the view's canonical URL and fingerprint "
        "as table properties). A view that cannot evaluate a resource fails naming the view, column and the "
        "resource's pseudonymized id, and leaves its table as it was. `views conformance` runs the official suite.",
    )
    parser.add_argument("--research", help="research zone (DIR/delta/<Type>)")
    parser.add_argument(
        "--views", nargs="+", default=None, help=f"ViewDefinition files or folders (default: {STARTER_VIEWS})"
    )
    parser.add_argument(
        "--output", default=None, help="zone to write views/<name> into (default: --research)"
    )
    parser.add_argument(
        "--mode",
        choices=["overwrite", "merge"],
        default="overwrite",
        help="overwrite: replace each view table; merge: replace only the rows of the resources in RESEARCH "
        "(keyed by the view's getResourceKey() column), keep the others. Atomic per view either way",
    )
    add_spark_options(parser)
    parser.set_defaults(handler=run)
    nested = parser.add_subparsers(dest="views_command", metavar="conformance")
    conformance = nested.add_parser(
        "conformance", help="run the SQL on FHIR v2 test suite and write the report"
    )
    conformance.add_argument("tests_dir", help="folder of the suite's *.json test files")
    conformance.add_argument("--report", required=True, help="implementers' report (JSON) to write")
    conformance.add_argument(
        "--resource-format",
        choices=RESOURCE_FORMATS,
        default=DEFAULT_RESOURCE_FORMAT,
        help="the research zone's storage form to give the suite's resources in (variant: Spark 4 only)",
    )
    add_spark_options(conformance)
    conformance.set_defaults(handler=run_conformance)


def run(args: argparse.Namespace) -> None:
    """Materialize the views and print the rows written per view."""
    from anonymizer.views.errors import ViewEvaluationError
    from anonymizer.views.materialize import load_views, materialize

    if not args.research:
        raise UsageError("--research is required")
    if "://" not in args.research and not Path(args.research).exists():
        raise UsageError(f"--research path does not exist: {args.research}")
    views = load_views(
        args.views or [str(STARTER_VIEWS)]
    )  # an invalid definition: ViewDefinitionError, exit 2
    spark = session_from_args(args, app_name="fhir-anonymizer views", local_defaults=VIEWS_LOCAL_CONF)
    try:
        written = materialize(views, args.research, spark, output=args.output, mode=args.mode)
    except ViewEvaluationError as exc:
        raise CliError(f"view failed, its table is unchanged: {exc}") from exc
    from anonymizer.views import PYTHON_UDFS

    for item in written:
        note = "" if item.source_present else " (no source table: empty)"
        print(f"view {item.name}: {item.rows} rows -> {item.path}{note}")
    print(f"{len(written)} views compiled to native Spark SQL (Python UDFs: {len(PYTHON_UDFS)})")


def run_conformance(args: argparse.Namespace) -> None:
    """Run the suite, write the report, print the tally; fail when a shareable case fails."""
    from anonymizer.views.conformance import report, run_suite, tally

    tests_dir = Path(args.tests_dir)
    if not tests_dir.is_dir() or not any(tests_dir.glob("*.json")):
        raise UsageError(f"no test files (*.json) in {tests_dir}")
    spark = session_from_args(args, app_name="fhir-anonymizer views conformance")
    results = run_suite(tests_dir, spark, args.resource_format)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report(results), indent=2) + "\n", encoding="utf-8")
    print(tally(results))
    print(f"report: {args.report}")
    failed = [r for r in results if not r.passed and "experimental" not in r.tags]
    if failed:
        raise CliError(f"{len(failed)} non-experimental case(s) failed: see the report")
