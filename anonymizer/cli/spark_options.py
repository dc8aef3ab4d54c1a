"""Spark options shared by every subcommand that runs a Spark job (``--master``, ``--remote``, ``--conf k=v``)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from anonymizer.cli.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def add_spark_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--master``, ``--remote`` and repeatable ``--conf k=v`` to a subcommand parser."""
    group = parser.add_argument_group("Spark")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--master",
        default=None,
        help="Spark master URL; default: the spark-submit/Databricks session if there is one, else local[*]",
    )
    where.add_argument(
        "--remote",
        default=None,
        metavar="URL",
        help="Spark Connect server, e.g. sc://127.0.0.1:15002 (default: $SPARK_REMOTE); "
        "local[N] starts one in this process (pyspark's fixed port 15002, bound to 127.0.0.1)",
    )
    group.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting (repeatable), e.g. --conf spark.driver.memory=4g",
    )


def parse_conf(pairs: list[str]) -> dict[str, str]:
    """Turn ``["k=v", ...]`` into a dict, rejecting malformed entries as usage errors."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--conf expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def session_from_args(
    args: argparse.Namespace, app_name: str, local_defaults: Mapping[str, str] | None = None
) -> SparkSession:
    """The Spark session for a CLI run (see :func:`anonymizer.spark.session.cli_session`); ``local_defaults``
    apply only to a local session started here."""
    from anonymizer.spark.session import cli_session

    return cli_session(
        args.master,
        parse_conf(args.conf),
        app_name=app_name,
        verbose=bool(getattr(args, "verbose", False)),
        remote=getattr(args, "remote", None),
        local_defaults=local_defaults,
    )
