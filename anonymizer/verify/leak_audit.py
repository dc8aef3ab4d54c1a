"""Leak audit: search the whole research zone for every identifying value harvested from the landing data.

Both sides are reduced to match keys on the executors (Python, :mod:`harvest` and :mod:`candidates`) and
meet in one Spark equi-join on ``(kind, norm)``; nothing is collected to the driver except aggregated
counts per category, resource type and path. No value ever leaves the join.

A hit is *exempt* (reported with its reason, not counted as a leak) outside the elements identifiers were
harvested from (``Patient.name`` ...) when

* it is a single word the scrubber keeps standing alone (:func:`anonymizer.text.common_words.kept_alone_reason`:
  a common or clinical word such as "hand" or "white", or a name part shorter than 4 letters), also in free text:
  "Laceration of hand" does not name Mr Hand; his full name, or a name part with digits, still does; or
* the output path is not free text and the landing data hold the same key at the same type and path: the value
  is non-identifying data the config keeps on purpose, e.g. a hospital's city that equals a patient's city.
"""

from __future__ import annotations

import functools
import logging
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from anonymizer.text.common_words import COMMON_WORD, COMMON_WORDS, MIN_ALONE_TOKEN, SHORT_TOKEN
from anonymizer.verify.bloom import KeyBloom, build_bloom
from anonymizer.verify.candidates import is_free_text_path, resource_values
from anonymizer.verify.harvest_frame import Harvest
from anonymizer.verify.passes import filtered_keys
from anonymizer.verify.row_map import map_rows
from anonymizer.views.audit import VIEW_TYPE_PREFIX

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger("anonymizer.verify")

#: Reason of an exempt match: the source holds the same value at the same element, which is not an identifier's.
KEPT_IN_SOURCE = "same value at the same element of the source (kept non-identifying data)"
HARVEST_SCHEMA = "kind string, norm string, category string, label string, src_type string, src_path string"
CANDIDATE_SCHEMA = "uid long, rtype string, kind string, norm string, path string"
SOURCE_CANDIDATE_SCHEMA = "rtype string, kind string, norm string, path string"
#: One hit: a resource (``uid``) of the research zone holds a harvested key at a path.
HIT_COLUMNS = ("uid", "category", "label", "rtype", "path", "kind", "norm")


@dataclass
class LeakAuditResult:
    """Aggregated audit outcome: counts only, never values."""

    harvested: dict[str, dict[str, int]]  # category -> label -> distinct values harvested
    hits: list[dict[str, Any]]  # category, labels, resource_type, path, hits, distinct_values, exempt, reason
    leaks: int = 0
    exempt: int = 0
    sensitive_paths: int = 0
    notes: list[str] = field(default_factory=list)
    #: common or clinical words (of the public list, never another value) exempt as such: word, hits
    exempt_words: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/verify.md, ``leak_audit``)."""
        return {
            "leaks": self.leaks,
            "exempt_matches": self.exempt,
            "harvested": self.harvested,
            "findings": self.hits,
            "exempt_words": self.exempt_words,
            "notes": self.notes,
        }


def _source_candidate_partition(places: frozenset[tuple[str, str]], bloom: KeyBloom) -> Any:
    """Match keys the source holds at the exemptable places (type and path) only."""
    types = frozenset(t for t, _ in places)
    leading = _leading_paths(places)

    def run(lines: Any) -> Any:
        keys_of = filtered_keys(bloom)
        for row in lines:
            try:
                resource = orjson.loads(row["line"]) if row["line"] else None
            except orjson.JSONDecodeError:
                continue
            if not isinstance(resource, dict) or resource.get("resourceType") not in types:
                continue
            rtype = resource["resourceType"]
            found = {
                (k, n, path)
                for path, value in resource_values(resource, leading)
                if (rtype, path) in places
                for k, n in keys_of(value)
            }
            for kind, norm, path in found:
                yield (rtype, kind, norm, path)

    return run


def _leading_paths(places: frozenset[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """Every (type, path) that leads to a place, the places included: the exemption walk goes down those only."""
    return frozenset(
        (rtype, ".".join(parts[:n]))
        for rtype, path in places
        for parts in [path.split(".")]
        for n in range(2, len(parts) + 1)
    )


def run_leak_audit(
    spark: SparkSession, source_lines: DataFrame, harvest: Harvest, output: DataFrame
) -> LeakAuditResult:
    """Join the output pass's ``cand`` records with the harvested keys, classify exemptions, aggregate."""
    from pyspark.sql import functions as F

    candidates = output.where(F.col("rec") == "cand").select("uid", "rtype", "kind", "norm", "path", "digest")
    keys = harvest.keys.select("kind", "norm", "category", "label").distinct()
    joined = candidates.join(keys, ["kind", "norm"])
    # A hit with the digest of the value it was found in (one hit may come from several values of a resource).
    valued = joined.select(*HIT_COLUMNS, "digest").distinct().persist()
    per_hit = valued.select(*HIT_COLUMNS).distinct().persist()
    try:
        return _classify(spark, source_lines, harvest, valued, per_hit)
    finally:
        per_hit.unpersist()
        valued.unpersist()


def is_sensitive_path(rtype: str, path: str, sensitive: set[tuple[str, str]]) -> bool:
    """True when ``path`` is, or lies inside, an element where identifiers were harvested for this type.

    Harvest paths name the element (``Patient.name``); a match inside it (``Patient.name.family``) is
    never explained away by the same value at the same place in the source.
    """
    parts = path.split(".")
    return any((rtype, ".".join(parts[:n])) in sensitive for n in range(2, len(parts) + 1))


def kept_word_reason(kind: Column, norm: Column) -> Column:
    """The scrubber's reason to keep a single word alone (:func:`~anonymizer.text.common_words.kept_alone_reason`)
    as a column expression over match keys, or null."""
    from pyspark.sql import functions as F

    single = (kind == "words") & ~norm.contains(" ") & ~norm.rlike("[0-9]")
    return (
        F.when(single & norm.isin(sorted(COMMON_WORDS)), F.lit(COMMON_WORD))
        .when(single & (F.length(norm) < MIN_ALONE_TOKEN), F.lit(SHORT_TOKEN))
        .otherwise(F.lit(None).cast("string"))
    )


def _classify(
    spark: SparkSession,
    source_lines: DataFrame,
    harvest: Harvest,
    valued: DataFrame,
    per_hit: DataFrame,
) -> LeakAuditResult:
    """Give each hit its reason (or none): a kept word, else the same key at the same place of the source.

    The source's key at the same place is looked for in three steps, each only where the one before left hits
    without a reason (the first reason wins, so this is what reading every place would give): the hit's very value
    among the source pass's value digests at that type and path (a kept value: nothing is read again), then the
    source lines of the types still concerned, walked down to those places only.

    Two jobs when the kept values explain every hit they may (the usual case): the hits per location, then the
    final aggregate, which also counts the hits left without a reason at exemptable places. Places are told apart
    by column expressions over ``(rtype, path)`` (no join with a driver-made table: each would be a broadcast job).
    """
    from pyspark.sql import functions as F

    sensitive = harvest.sensitive
    word_reason = kept_word_reason(F.col("kind"), F.col("norm"))
    # Per location: its hits, and those a kept word does not explain (outside the harvest locations such a hit
    # has no reason but the source's same value at the same element).
    per_location = (
        per_hit.groupBy("rtype", "path")
        .agg(F.count(F.lit(1)).alias("count"), F.count_if(word_reason.isNull()).alias("open"))
        .collect()
    )
    open_hits = {(r["rtype"], r["path"]): int(r["open"]) for r in per_location}
    # A view row has no counterpart in the source and its columns are named by the view: never exempt.
    outside = [
        (t, p)
        for t, p in open_hits
        if not is_sensitive_path(t, p, sensitive) and not t.startswith(VIEW_TYPE_PREFIX)
    ]
    exemptable = [(t, p) for t, p in outside if not is_free_text_path(p) and open_hits[(t, p)]]
    marked = per_hit.withColumn("reason", F.when(_at_places(outside), word_reason))
    if exemptable:
        marked = _kept_values(marked, valued, harvest.records, exemptable)
    marked = marked.withColumn("exempt", F.col("reason").isNotNull()).withColumn(
        "_open", _at_places(exemptable) & F.col("reason").isNull()
    )
    marked = marked.cache()
    cached = [marked]
    try:
        result, remaining = _aggregate(marked, harvest.counts, sensitive)
        if exemptable:
            # Types and paths only (never values).
            log.info(
                "leak audit: %d exemptable places, %d with hits no kept value explains (source lines read again)",
                len(exemptable),
                len(remaining),
            )
        if remaining:
            marked = _kept_keys(spark, marked.drop("exempt", "_open"), source_lines, remaining)
            marked = marked.withColumn("exempt", F.col("reason").isNotNull()).withColumn(
                "_open", F.lit(False)
            )
            marked = marked.cache()
            cached.append(marked)
            result, _ = _aggregate(marked, harvest.counts, sensitive)
        return result
    finally:
        for frame in cached:
            frame.unpersist()


def _at_places(places: list[tuple[str, str]]) -> Column:
    """True for the rows whose ``(rtype, path)`` is one of ``places`` (types and paths, never values)."""
    from pyspark.sql import functions as F

    if not places:
        return F.lit(False)
    return F.concat(F.col("rtype"), F.lit("\x01"), F.col("path")).isin(
        sorted(f"{t}\x01{p}" for t, p in places)
    )


def _kept_values(
    marked: DataFrame,
    valued: DataFrame,
    source: DataFrame,
    exemptable: list[tuple[str, str]],
) -> DataFrame:
    """Mark the hits without a reason whose value the source holds, unchanged, at the same type and path (its value
    digest among the source pass's ``leaf`` records there): the same value has the same keys."""
    from pyspark.sql import functions as F

    at_places = ["rtype", "path", "digest"]
    hit_values = valued.where(_at_places(exemptable) & F.col("digest").isNotNull())
    wanted = hit_values.select(*at_places).distinct()
    # Only the source's value digests at those types and paths are compared (a filter on the cached records).
    types, paths = sorted({t for t, _ in exemptable}), sorted({p for _, p in exemptable})
    leaves = source.where(
        (F.col("rec") == "leaf") & F.col("rtype").isin(types) & F.col("path").isin(paths)
    ).select(*at_places)
    kept = leaves.join(wanted, at_places, "left_semi").distinct()
    same = hit_values.join(kept, at_places, "left_semi").select(*HIT_COLUMNS).distinct()
    return (
        marked.join(same.withColumn("_same", F.lit(True)), list(HIT_COLUMNS), "left")
        .withColumn("reason", F.coalesce("reason", F.when(F.col("_same"), F.lit(KEPT_IN_SOURCE))))
        .drop("_same")
    )


def _kept_keys(
    spark: SparkSession, marked: DataFrame, source_lines: DataFrame, open_hits: dict[tuple[str, str], int]
) -> DataFrame:
    """Mark the hits without a reason whose key the source holds at the same type and path (``open_hits``: such hits
    per place): the source lines of those types are read again and walked down to those places only."""
    from pyspark.sql import functions as F

    exemptable = sorted(open_hits)
    types = sorted({t for t, _ in exemptable})
    # The hits still without a reason at those places; sized for them (at least their distinct keys), and a key
    # added twice sets the same bits.
    places = spark.createDataFrame(exemptable, "rtype string, path string")
    unexplained = marked.where(F.col("reason").isNull()).join(places, ["rtype", "path"])
    bloom = build_bloom(unexplained, sum(open_hits.values()))
    # Only the lines of those types reach Python: a line of type T holds the text "T" (a superset; Python checks
    # the parsed type). A plain substring search costs the JVM much less than a regex per line.
    holds_type = [F.col("line").contains(f'"{t}"') for t in types]
    typed = source_lines.where(functools.reduce(operator.or_, holds_type))
    src = map_rows(
        typed.select("line"),
        _source_candidate_partition(frozenset(exemptable), bloom),
        SOURCE_CANDIDATE_SCHEMA,
        texts=("line",),
    )
    explained = src.select("rtype", "path", "kind", "norm").distinct().withColumn("_kept", F.lit(True))
    return (
        marked.join(explained, ["rtype", "path", "kind", "norm"], "left")
        .withColumn("reason", F.coalesce("reason", F.when(F.col("_kept"), F.lit(KEPT_IN_SOURCE))))
        .drop("_kept")
    )


def _aggregate(
    marked: DataFrame, harvest_counts: dict[str, dict[str, int]], sensitive: set[tuple[str, str]]
) -> tuple[LeakAuditResult, dict[tuple[str, str], int]]:
    """The findings and exempt words (one job), and the hits per exemptable place still without a reason (``_open``
    rows; constant within a finding's group, so grouping by it splits nothing)."""
    from pyspark.sql import functions as F

    null = F.lit(None).cast("string")
    findings_rows = marked.groupBy("category", "rtype", "path", "exempt", "reason", "_open").agg(
        F.countDistinct("uid").alias("resources"),
        F.countDistinct("kind", "norm").alias("distinct_values"),
        F.sort_array(F.collect_set("label")).alias("labels"),
        F.count(F.lit(1)).alias("rows"),
    )
    # Only words of the public list reach the driver (and the report): never another matched value.
    word_rows = (
        marked.where(F.col("reason") == COMMON_WORD)
        .groupBy("norm")
        .agg(F.countDistinct("uid").alias("resources"))
        .select(null.alias("category"), null.alias("rtype"), F.col("norm").alias("path"),
                F.lit(True).alias("exempt"), F.lit(COMMON_WORD).alias("reason"), F.lit(False).alias("_open"),
                "resources", F.lit(0).cast("long").alias("distinct_values"),
                F.array().cast("array<string>").alias("labels"), F.lit(0).cast("long").alias("rows"))
    )  # fmt: skip
    tagged = findings_rows.withColumn("_word", F.lit(False)).unionByName(
        word_rows.withColumn("_word", F.lit(True))
    )
    collected = tagged.collect()
    rows = sorted(
        (r for r in collected if not r["_word"]),
        key=lambda r: (
            r["exempt"],
            r["category"],
            r["rtype"],
            r["path"],
            r["reason"] is not None,
            r["reason"] or "",
        ),
    )
    findings = [
        {
            "category": r["category"],
            "labels": list(r["labels"]),
            "resource_type": r["rtype"],
            "path": r["path"],
            "hits": int(r["resources"]),
            "distinct_values": int(r["distinct_values"]),
            "exempt": bool(r["exempt"]),
            "reason": r["reason"],
        }
        for r in rows
    ]
    words = sorted((r for r in collected if r["_word"]), key=lambda r: (-int(r["resources"]), r["path"]))
    exempt_words = [{"word": r["path"], "reason": COMMON_WORD, "hits": int(r["resources"])} for r in words]
    remaining: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["_open"]:
            remaining[(r["rtype"], r["path"])] = remaining.get((r["rtype"], r["path"]), 0) + int(r["rows"])
    leaks = sum(f["hits"] for f in findings if not f["exempt"])
    exempt = sum(f["hits"] for f in findings if f["exempt"])
    result = LeakAuditResult(
        harvest_counts, findings, leaks, exempt, len(sensitive), exempt_words=exempt_words
    )
    return result, remaining
