"""``fhir-anonymizer run``: the whole chain (export -> de-identify -> verify -> views) in one Spark session.

The chain itself is the library's :func:`anonymizer.pipeline.run`; this module turns options into its request and
its report into lines.

``--demo`` runs it on the bundled Synthea sample with ``configs/hipaa-safe-harbor.json`` and explicitly requested
ephemeral keys: the sample is served by the built-in Bulk Data test server on 127.0.0.1, exported into a local
landing folder, de-identified into Delta tables, verified, and the starter views (``views/``) are materialized
as Delta tables under ``research/views/`` once verification has passed. A demo run replaces the tables of the
previous one (``--mode overwrite``): its ephemeral keys give every run new pseudonyms, so a merge would keep the
previous run's rows as other patients.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.cli.check_config import add_allow_dead_rules
from anonymizer.cli.deidentify import parse_as_of, print_summary
from anonymizer.cli.errors import CliError, UsageError
from anonymizer.cli.spark_options import add_spark_options, session_from_args

if TYPE_CHECKING:
    from anonymizer.pipeline import PipelineReport

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_INPUT = REPO_ROOT / "examples" / "synthea-10-patients"
DEMO_CONFIG = REPO_ROOT / "configs" / "hipaa-safe-harbor.json"
STARTER_VIEWS = REPO_ROOT / "views"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="export -> de-identify -> verify in one go (--demo: on the bundled sample)",
        description="Run the whole pipeline: a Bulk Data $export into the landing folder (when --fhir-url is given, "
        "or from the built-in test server with --demo), de-identification into the research zone, and the "
        "verification report. Exit status 1 when verification finds a leak or counts do not reconcile.",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled 10-patient sample, hipaa-safe-harbor.json and ephemeral keys",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="folder for landing/, research/, quarantine/ and report/ (demo) or the research zone",
    )
    parser.add_argument("--landing", default=None, help="landing folder (default: <output>/landing)")
    parser.add_argument(
        "--fhir-url", default=None, help="FHIR base URL to export from (see `export --help` for more options)"
    )
    parser.add_argument(
        "--config", default=None, help="rules file (default with --demo: configs/hipaa-safe-harbor.json)"
    )
    parser.add_argument(
        "--as-of", default=None, metavar="YYYY-MM-DD", help="reference date of the 'age over 89' rule"
    )
    parser.add_argument(
        "--allow-ephemeral-keys", action="store_true", help="random keys for empty ones (implied by --demo)"
    )
    parser.add_argument(
        "--mode",
        choices=("merge", "overwrite"),
        default=None,
        help="merge: upsert by pseudonymized id (default); overwrite: each table written holds only this run's "
        "rows (the default with --demo, whose ephemeral keys give new pseudonyms every run)",
    )
    add_allow_dead_rules(parser)
    parser.add_argument(
        "--views",
        nargs="+",
        default=None,
        help="ViewDefinition files/folders to materialize after a passing verification (--demo: views/)",
    )
    add_spark_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run the chain with :func:`anonymizer.pipeline.run` and print its report (exit 1 when it does not pass)."""
    from anonymizer.export.client import ExportRequest, PollPolicy
    from anonymizer.pipeline import PipelineRequest
    from anonymizer.pipeline import run as run_pipeline

    config = args.config or (str(DEMO_CONFIG) if args.demo else None)
    if config is None:
        raise UsageError("--config is required (or use --demo)")
    out = Path(args.output).resolve()
    landing = Path(args.landing).resolve() if args.landing else out / "landing"
    if not (args.demo or args.fhir_url or landing.exists()):
        raise UsageError(f"no landing data at {landing}: give --fhir-url, --landing or --demo")
    view_paths = args.views or ([str(STARTER_VIEWS)] if args.demo else [])
    request = PipelineRequest(
        output=str(out),
        config=config,
        landing=str(landing),
        export=ExportRequest(fhir_url=args.fhir_url) if args.fhir_url else None,
        as_of=parse_as_of(args.as_of),
        allow_ephemeral_keys=args.demo or args.allow_ephemeral_keys,
        mode=args.mode or ("overwrite" if args.demo else "merge"),
        allow_dead_rules=args.allow_dead_rules,
        views=tuple(view_paths),
    )
    spark = partial(session_from_args, args, "fhir-anonymizer run")  # started once the export is done
    if args.demo and not args.fhir_url:
        from anonymizer.testing.fhir_server import BulkDataTestServer, ServerConfig

        with BulkDataTestServer(ServerConfig(data_dir=DEMO_INPUT)) as server:
            print(f"demo: built-in Bulk Data test server at {server.base_url} (127.0.0.1 only)")
            request = replace(
                request,
                export=ExportRequest(fhir_url=server.base_url),
                export_poll=PollPolicy(initial_delay_s=0.2, max_delay_s=1.0),
            )
            report = run_pipeline(request, spark)
    else:
        report = run_pipeline(request, spark)
    print_report(report)
    if not report.passed:
        raise CliError("verification did not pass: see the report (views are not materialized)")


def print_report(report: PipelineReport) -> None:
    """Aggregates only: the export, the run's counts, the verdict, where the report is, views and timings."""
    if report.export is not None:
        exported = report.export
        print(
            f"export {exported.export_id}: {sum(exported.counts.values())} resources in {exported.seconds:.1f}s "
            f"-> {exported.folder}"
        )
    print_summary(report.deidentify)
    verdict = report.verify.report["verdict"]
    print(
        f"verify: leaks {verdict['leaks']}, precision violations {verdict['precision_violations']}, "
        f"counts reconciled {'yes' if verdict['counts_reconciled'] else 'no'}"
    )
    print(f"Report:        {report.verify.report_html}")
    if report.views:
        research = report.deidentify.summary.output.rstrip("/")
        print(
            "Views:         "
            + ", ".join(f"{w.name} {w.rows}" for w in report.views)
            + f" (rows; {research}/views/<name>)"
        )
    print("Timings:       " + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items()))
