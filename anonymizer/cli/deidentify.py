"""``fhir-anonymizer deidentify``: landing NDJSON -> research-zone Delta tables, NDJSON, quarantine, run summary."""

from __future__ import annotations

import argparse
from datetime import date

from anonymizer.cli.check_config import add_allow_dead_rules
from anonymizer.cli.errors import CliError, UsageError
from anonymizer.cli.spark_options import add_spark_options, session_from_args
from anonymizer.spark.resource_format import DEFAULT_RESOURCE_FORMAT, FORMAT_PROPERTY, RESOURCE_FORMATS


def parse_as_of(text: str | None) -> date | None:
    """``YYYY-MM-DD`` -> date (usage error otherwise)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of expects YYYY-MM-DD, got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``deidentify`` subcommand."""
    parser = subparsers.add_parser(
        "deidentify",
        help="de-identify bulk-export NDJSON into research-zone Delta tables",
        description="Read bulk-export NDJSON (plain or .gz, any file names) from a folder or Hadoop URI, apply the "
        "rules config to every resource in one Spark pass, and write one Delta table per resource type "
        "(MERGE on the pseudonymized id), optionally anonymized NDJSON per type, a quarantine of lines that could not be "
        "processed (with file, line and reason), a run summary JSON and a row in the _runs table.",
    )
    parser.add_argument(
        "--input", required=True, help="landing folder or URI (file://, abfss://) with the NDJSON files"
    )
    parser.add_argument(
        "--output",
        required=True,
        help="research zone root: delta/<Type>, ndjson/<Type> (unless --no-ndjson), run-summary.json",
    )
    parser.add_argument(
        "--config", required=True, help="rules file in Microsoft's anonymizer format (see configs/)"
    )
    parser.add_argument(
        "--quarantine",
        default=None,
        help="where quarantined lines go (they contain PHI); default <output>-quarantine; never inside --output",
    )
    parser.add_argument(
        "--as-of",
        default=None,
        metavar="YYYY-MM-DD",
        help="reference date of the 'age over 89' rule (default: today, UTC)",
    )
    parser.add_argument(
        "--run-id", default=None, help="identifier recorded with every row (default: timestamp + random)"
    )
    parser.add_argument(
        "--allow-ephemeral-keys",
        action="store_true",
        help="use random keys for keys the config leaves empty (throw-away demos only: pseudonyms change every run)",
    )
    parser.add_argument(
        "--allow-weak-test-keys",
        action="store_true",
        help="accept keys shorter than 32 bytes or repeated (Microsoft's test fixtures only; never for real data)",
    )
    parser.add_argument(
        "--keys-from",
        default=None,
        metavar="PREFIX",
        help="read the keys from a secret store instead of the config: dbsecret:<scope> or "
        "keyvault:https://<vault>.vault.azure.net/secrets (secrets crypto-hash-key, date-shift-key, encrypt-key)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="longer lines are quarantined (default 64 MiB)",
    )
    parser.add_argument(
        "--mode",
        choices=("merge", "overwrite"),
        default="merge",
        help="merge: upsert by pseudonymized id, newest meta.lastUpdated wins (default); "
        "overwrite: each table written holds only this run's rows",
    )
    parser.add_argument(
        "--purge-history",
        action="store_true",
        help="with --mode overwrite: then delete the files of every older version of the tables written "
        "(Delta VACUUM RETAIN 0 HOURS), so time travel cannot reach an earlier, leaky run; no other job may "
        "use these tables meanwhile",
    )
    parser.add_argument(
        "--skip-unreadable-files",
        action="store_true",
        help="quarantine each unreadable input file (truncated gzip, not UTF-8 text) as one record and go on; "
        "default: stop before any table is touched, naming every unreadable file",
    )
    add_allow_dead_rules(parser)
    parser.add_argument(
        "--resource-format",
        choices=RESOURCE_FORMATS,
        default=DEFAULT_RESOURCE_FORMAT,
        help="how the Delta tables store each resource: json (a JSON string every Delta reader opens: Spark 3.5, "
        "Fabric, Synapse, delta-rs, polars, DuckDB; the default) or variant (VARIANT: Spark 4 / Databricks "
        "only); recorded in each table's property " + FORMAT_PROPERTY,
    )
    parser.add_argument(
        "--ndjson",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write the anonymized resources as NDJSON under <output>/ndjson/<Type>/ (what Microsoft's tool "
        "writes; for readers without Delta; the default); --no-ndjson skips this second, uncompressed copy of the "
        "data (about 4x the Delta bytes) and removes the NDJSON of an earlier run",
    )
    add_spark_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Run the de-identification and print where the results are."""
    from anonymizer.config.lint import check_before_run
    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify

    request = DeidentifyRequest(
        input=args.input,
        output=args.output,
        config=args.config,
        quarantine=args.quarantine,
        as_of=parse_as_of(args.as_of),
        run_id=args.run_id,
        allow_ephemeral_keys=args.allow_ephemeral_keys,
        allow_weak_test_keys=args.allow_weak_test_keys,
        max_line_bytes=args.max_line_bytes,
        keys_from=args.keys_from,
        mode=args.mode,
        purge_history=args.purge_history,
        allow_dead_rules=args.allow_dead_rules,
        skip_unreadable_files=args.skip_unreadable_files,
        resource_format=args.resource_format,
        ndjson=args.ndjson,
    )
    # Before Spark starts: a config mistake costs no JVM start-up.
    check_before_run(args.config, allow_dead_rules=args.allow_dead_rules, what="de-identification")
    spark = session_from_args(args, "fhir-anonymizer deidentify")
    result = run_deidentify(request, spark)
    print_summary(result)
    if result.skipped_inputs:
        print(f"Skipped:       incomplete exports (no manifest.json): {', '.join(result.skipped_inputs)}")
    if not result.summary.reconciled:
        raise CliError("counts do not reconcile (lines in != rows out + quarantined); see the run summary")


def print_summary(result: object) -> None:
    """Aggregate-only table of the run (never values)."""
    summary = result.summary  # type: ignore[attr-defined]
    print(
        f"run {summary.run_id}: {summary.totals.lines_in} lines in, {summary.totals.rows_out} rows out, "
        f"{summary.totals.quarantined} quarantined"
    )
    print(f"{'resource type':<28}{'in':>9}{'out':>9}{'quar.':>8}")
    for name, c in sorted(summary.counts.items()):
        print(f"{name:<28}{c.lines_in:>9}{c.rows_out:>9}{c.quarantined:>8}")
    print(f"Delta tables:  {summary.output.rstrip('/')}/delta/<ResourceType>")
    if getattr(result, "ndjson", False):
        print(f"NDJSON:        {summary.output.rstrip('/')}/ndjson/<ResourceType>/")
    print(f"Run summary:   {result.summary_path}")  # type: ignore[attr-defined]
    print(f"Quarantine:    {summary.quarantine}/quarantine")
    if summary.unreadable_files:
        print(
            f"Unreadable files skipped: {len(summary.unreadable_files)} (one quarantine record each, reason unreadable_file)"
        )
        for file in summary.unreadable_files:
            print(f"  {file['path']} ({file['size']:,} bytes): {file['reason']}")
