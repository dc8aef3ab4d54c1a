"""Every per-type and per-path total of verify's two passes in one Spark job (aggregates only reach the driver).

The counts (source lines and duplicates per type, rows of the run per type), the changes (per type and path: values
on each side and kept ones; security labels per type), the precision and identifier-shape findings and the decades
of dates are all sums over the cached records of :mod:`anonymizer.verify.passes`. Each used to be its own job (seven
in all), and every new query plan costs the JIT compiler and the scheduler again; here they are one ``union`` of
three aggregates and one ``collect`` of their small results, split on the driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Aggregated rows of one record type: ``(rtype, path, kind, norm) -> n``.
Sums = dict[tuple[str | None, str | None, str | None, str | None], int]


@dataclass
class RecordTotals:
    """The totals of both passes' records (counts and type/path/check names only, never a value)."""

    source_lines: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    #: (rtype, path) -> (values in the source, values in the output, values kept)
    paths: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)
    #: ``rows``, ``label``, ``precision``, ``ident`` (output pass) and ``decade`` (source pass) records, summed
    sums: dict[str, Sums] = field(default_factory=dict)

    def of(self, rec: str) -> Sums:
        """The summed records of one type (empty when there were none)."""
        return self.sums.get(rec, {})


#: Small records summed per ``(rec, rtype, path, kind, norm)``: which pass emits them.
_OUTPUT_SUMS = ("rows", "label", "precision", "ident")
_SOURCE_SUMS = ("decade",)


def record_totals(source: DataFrame, output: DataFrame) -> RecordTotals:
    """One job: lines per type and duplicates (``line`` records), value multisets compared per path (``leaf``
    records of both sides, see :mod:`anonymizer.verify.changes`), and the sums of the small records."""
    from pyspark.sql import functions as F

    from anonymizer.verify.counts import NO_TYPE

    null, zero = F.lit(None).cast("string"), F.lit(0).cast("long")

    def shaped(
        tag: Column, rtype: Column, path: Column, kind: Column, norm: Column, *n: Column
    ) -> list[Column]:
        counts = [*n, *([zero] * (3 - len(n)))]
        return [tag.alias("tag"), rtype.alias("rtype"), path.alias("path"), kind.alias("kind"),
                norm.alias("norm"), *(c.cast("long").alias(f"n{i}") for i, c in enumerate(counts))]  # fmt: skip

    # Lines per (type, id), then per type their sum and the lines beyond the first of each known id.
    lines = source.where(F.col("rec") == "line").select(F.col("rtype").alias("t"), F.col("norm").alias("id"))
    repeated = F.col("id").isNotNull() & (F.col("t") != NO_TYPE) & (F.col("count") > 1)
    per_type = (
        lines.groupBy("t", "id")
        .count()
        .groupBy("t")
        .agg(
            F.sum("count").alias("lines"),
            F.sum(F.when(repeated, F.col("count") - 1).otherwise(0)).alias("dups"),
        )
        .select(*shaped(F.lit("line"), F.col("t"), null, null, null, F.col("lines"), F.col("dups")))
    )

    # Each value's count on both sides in one aggregate (no join), then per path.
    def leaves(records: DataFrame, side: str) -> DataFrame:
        n = F.col("n").cast("long")
        return records.where(F.col("rec") == "leaf").select(
            "rtype", "path", "digest",
            (n if side == "src" else zero).alias("n_src"), (n if side == "out" else zero).alias("n_out"),
        )  # fmt: skip

    paths = (
        leaves(source, "src")
        .unionByName(leaves(output, "out"))
        .groupBy("rtype", "path", "digest")
        .agg(F.sum("n_src").alias("n_src"), F.sum("n_out").alias("n_out"))
        .groupBy("rtype", "path")
        .agg(
            F.sum("n_src").alias("s"), F.sum("n_out").alias("o"), F.sum(F.least("n_src", "n_out")).alias("k")
        )
        .select(
            *shaped(
                F.lit("leaf"), F.col("rtype"), F.col("path"), null, null, F.col("s"), F.col("o"), F.col("k")
            )
        )
    )
    columns = ["rec", "rtype", "path", "kind", "norm", "n"]
    small = (
        output.where(F.col("rec").isin(*_OUTPUT_SUMS))
        .select(*columns)
        .unionByName(source.where(F.col("rec").isin(*_SOURCE_SUMS)).select(*columns))
        .groupBy("rec", "rtype", "path", "kind", "norm")
        .agg(F.sum("n").alias("n"))
        .select(
            *shaped(F.col("rec"), F.col("rtype"), F.col("path"), F.col("kind"), F.col("norm"), F.col("n"))
        )
    )
    totals = RecordTotals()
    for row in per_type.unionByName(paths).unionByName(small).collect():
        tag, rtype, path = row["tag"], row["rtype"], row["path"]
        if tag == "line":
            totals.source_lines[rtype] = int(row["n0"])
            if row["n1"]:
                totals.duplicates[rtype] = int(row["n1"])
        elif tag == "leaf":
            totals.paths[(rtype, path)] = (int(row["n0"]), int(row["n1"]), int(row["n2"]))
        else:
            totals.sums.setdefault(tag, {})[(rtype, path, row["kind"], row["norm"])] = int(row["n0"])
    return totals
