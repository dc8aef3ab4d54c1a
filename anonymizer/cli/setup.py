"""``fhir-anonymizer setup``: resolve and cache the Delta JARs so later runs start offline."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``setup`` subcommand."""
    parser = subparsers.add_parser(
        "setup",
        help="resolve the Delta Lake JARs from Maven Central into the local cache (once)",
        description="Resolve the Delta Lake JARs matching the installed pyspark/delta-spark from Maven Central "
        "into ~/.cache/fhir-anonymizer (or $FHIR_ANONYMIZER_CACHE). Set FHIR_ANONYMIZER_JARS_DIR to use a "
        "folder of JARs instead on machines without access to Maven Central.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Resolve the JARs and print where they are."""
    from anonymizer.spark.jars import cache_dir, ensure_delta_jars

    jars = ensure_delta_jars()
    print(f"Delta JARs ready ({len(jars)} files) in {cache_dir()}")
