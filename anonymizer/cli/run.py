"""``fhir-anonymizer run``: the whole chain (export -> de-identify -> verify) in one Spark session.

``--demo`` runs it on the bundled Synthea sample with ``configs/hipaa-safe-harbor.json`` and explicitly requested
ephemeral keys: the sample is served by the built-in Bulk Data test server on 127.0.0.1, exported into a local
landing folder, de-identified into Delta tables and verified.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from anonymizer.cli.check_config import add_allow_dead_rules
from anonymizer.cli.deidentify import parse_as_of, print_summary
from anonymizer.cli.errors import CliError, UsageError
from anonymizer.cli.spark_options import add_spark_options, session_from_args

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_INPUT = REPO_ROOT / "examples" / "synthea-10-patients"
DEMO_CONFIG = REPO_ROOT / "configs" / "hipaa-safe-harbor.json"


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
    add_allow_dead_rules(parser)
    add_spark_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run export (if any), de-identification and verification."""
    from anonymizer.config.lint import check_before_run
    from anonymizer.errors import AnonymizerError
    from anonymizer.spark.pipeline import DeidentifyError, DeidentifyRequest, run_deidentify
    from anonymizer.verify.pipeline import VerifyRequest, run_verify

    out = Path(args.output).resolve()
    config = args.config or (str(DEMO_CONFIG) if args.demo else None)
    if config is None:
        raise UsageError("--config is required (or use --demo)")
    try:
        check_before_run(config, allow_dead_rules=args.allow_dead_rules, what="run")
    except AnonymizerError as exc:  # before the export and before Spark starts
        raise CliError(str(exc)) from None
    landing = Path(args.landing).resolve() if args.landing else out / "landing"
    timings: dict[str, float] = {}
    clock = time.monotonic()
    if args.demo or args.fhir_url:
        landing = _export(args, landing)
        timings["export"] = time.monotonic() - clock
    elif not landing.exists():
        raise UsageError(f"no landing data at {landing}: give --fhir-url, --landing or --demo")

    spark = session_from_args(args, "fhir-anonymizer run")
    research, quarantine, report = out / "research", out / "quarantine", out / "report"
    step = time.monotonic()
    try:
        result = run_deidentify(
            DeidentifyRequest(
                input=str(landing),
                output=str(research),
                config=config,
                quarantine=str(quarantine),
                as_of=parse_as_of(args.as_of),
                allow_ephemeral_keys=args.demo or args.allow_ephemeral_keys,
                allow_dead_rules=args.allow_dead_rules,
            ),
            spark,
        )
    except (DeidentifyError, AnonymizerError) as exc:
        raise CliError(str(exc)) from None
    timings["deidentify"] = time.monotonic() - step
    print_summary(result)
    step = time.monotonic()
    verified = run_verify(
        VerifyRequest(
            source=str(landing),
            output=str(research),
            config=config,
            report_dir=str(report),
            quarantine=str(quarantine),
            allow_dead_rules=args.allow_dead_rules,
        ),
        spark=spark,
    )
    timings["verify"] = time.monotonic() - step
    verdict = verified.report["verdict"]
    print(
        f"verify: leaks {verdict['leaks']}, precision violations {verdict['precision_violations']}, "
        f"counts reconciled {'yes' if verdict['counts_reconciled'] else 'no'}"
    )
    print(f"Report:        {verified.report_html}")
    print("Timings:       " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    if not verified.passed:
        raise CliError("verification did not pass: see the report")


def _export(args: argparse.Namespace, landing: Path) -> Path:
    """Export into ``landing``; returns the folder holding this export's files."""
    try:
        from anonymizer.cli.export_chain import export_for_run
    except ModuleNotFoundError as exc:
        if exc.name != "anonymizer.cli.export_chain":
            raise
        if args.fhir_url:
            raise CliError(
                "this build has no Bulk Data export client; land the files yourself and pass --landing"
            ) from None
        # Without the export client the demo reads the bundled sample as its landing zone.
        return DEMO_INPUT
    return export_for_run(args, landing, demo_data=DEMO_INPUT)
