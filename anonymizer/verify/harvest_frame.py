"""The harvested identifier keys as a DataFrame of the source pass's records, with what the output pass and the leak
audit's join need: their counts per category and label, the places they come from and their Bloom filter.

Only aggregates reach the driver (counts, types and paths, key shapes, the filter's bits); never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anonymizer.verify.bloom import KeyBloom, build_bloom

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


@dataclass
class Harvest:
    """The harvested keys (a filter of the cached source records; a key may repeat), their counts per category and
    label, the locations they were harvested from (type and path, never values) and the Bloom filter of their
    keys."""

    keys: DataFrame
    counts: dict[str, dict[str, int]]
    sensitive: set[tuple[str, str]]
    bloom: KeyBloom
    #: the source pass's records (their ``leaf`` value digests tell where the source holds a hit's very value)
    records: DataFrame


def prepare_harvest(source: DataFrame, *, audit_dates: bool = True) -> Harvest:
    """The source pass's ``harvest`` records with what the output pass and the join need.

    ``audit_dates=False`` leaves calendar dates out of the join: under a date-shifting config a shifted
    date equals some other real date by chance, so a match would prove nothing.

    Two jobs over the cached source records: one aggregate for the distinct values per category and label, the
    places, the key shapes and the distinct keys (each record is expanded into one row per question, the rows are
    made distinct and counted per question: two shuffles), then the Bloom filter. The records are not made
    distinct and persisted first: each partition's keys are already distinct, and a key added twice sets the same
    bits (``keys`` holds duplicates across partitions; its users make it distinct).
    """
    from pyspark.sql import functions as F

    harvested = source.where(F.col("rec") == "harvest").select(
        "kind", "norm", "category", "label", F.col("rtype").alias("src_type"), F.col("path").alias("src_path")
    )
    if not audit_dates:
        harvested = harvested.where(F.col("kind") != "date")
    empty = F.lit(None).cast("string")

    def question(what: str, a: Column, b: Column, c: Column) -> Column:
        return F.struct(F.lit(what).alias("what"), a.alias("a"), b.alias("b"), c.alias("c"))

    kind, norm = F.col("kind"), F.col("norm")
    questions = F.array(
        # distinct values per category and label
        question("label", F.col("category"), F.col("label"), norm),
        # identifier locations (type + path, never values) may be collected: they mark sensitive output paths
        question("place", F.col("src_type"), F.col("src_path"), empty),
        # the (kind, length) pairs of the keys (lengths only): the filter rejects other shapes unhashed
        question("shape", kind, F.length(norm).cast("string"), empty),
        # the distinct keys, counted (sizes the filter)
        question("keys", empty, empty, F.concat(kind, F.lit("\x00"), norm)),
    )
    answers = (
        harvested.select(F.explode(questions).alias("q"))
        .select("q.*")
        .distinct()
        .groupBy("what", "a", "b")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    counts: dict[str, dict[str, int]] = {}
    sensitive: set[tuple[str, str]] = set()
    distinct_keys = 0
    key_shapes: set[tuple[str, int]] = set()
    for row in sorted(answers.collect(), key=lambda r: (r["what"], r["a"] or "", r["b"] or "")):
        if row["what"] == "label":
            counts.setdefault(row["a"], {})[row["b"]] = int(row["n"])
        elif row["what"] == "place":
            sensitive.add((row["a"], row["b"]))
        elif row["what"] == "shape":
            key_shapes.add((row["a"], int(row["b"])))
        else:
            distinct_keys = int(row["n"])
    bloom = build_bloom(harvested, distinct_keys, frozenset(key_shapes))
    return Harvest(harvested, counts, sensitive, bloom, source)
