"""Changes per element path: how many values were kept, changed, removed or added (values never shown).

Resource ids are pseudonymised, so a source resource cannot be paired with its output row. Instead each
side is reduced to a multiset of ``(resource type, path, hash of value)``; per path, the values present on
both sides (multiset intersection) are *kept*, the other source values were *changed or removed*, the
other output values were *added* (e.g. hashes, years, labels). The hash is an unkeyed BLAKE2b digest that
only lives inside the job; it is never written to the report.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.spark.summary import RunSummary

LABEL_PATH_SUFFIX = ".meta.security.code"


@dataclass
class ChangesResult:
    """Per-path statistics, security labels per type, and rule hits when the run recorded them."""

    paths: list[dict[str, Any]]
    security_labels: dict[str, dict[str, int]]
    rule_hits: list[dict[str, Any]] | None = None
    status_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/verify.md, ``changes``)."""
        return {
            "status_counts": self.status_counts,
            "paths": self.paths,
            "security_labels": self.security_labels,
            "rule_hits": self.rule_hits,
        }


def leaf_values(resource: dict[str, Any]) -> Counter[tuple[str, bytes]]:
    """Counter of ``(path, digest)`` for every primitive value of a resource."""
    out: Counter[tuple[str, bytes]] = Counter()
    rtype = str(resource.get("resourceType", "Unknown"))

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key != "resourceType":
                    walk(value, f"{path}.{key}")
        elif isinstance(obj, list):
            for element in obj:
                walk(element, path)
        elif obj is not None:
            digest = hashlib.blake2b(orjson.dumps(obj), digest_size=8).digest()
            out[(path, digest)] += 1

    walk(resource, rtype)
    return out


def security_codes(resource: dict[str, Any]) -> list[str]:
    """The ``meta.security`` codes of a resource (the labels the engine adds)."""
    security = (
        (resource.get("meta") or {}).get("security") or [] if isinstance(resource.get("meta"), dict) else []
    )
    return [c["code"] for c in security if isinstance(c, dict) and isinstance(c.get("code"), str)]


def run_changes(source: DataFrame, output: DataFrame, summary: RunSummary | None) -> ChangesResult:
    """Compare value multisets per path (``leaf`` records of both passes), count the output's security labels
    (``label`` records) and add the rule hits the run recorded."""
    from pyspark.sql import functions as F

    def leaves(records: DataFrame, side: str) -> DataFrame:
        n, zero = F.col("n").cast("long"), F.lit(0).cast("long")
        return records.where(F.col("rec") == "leaf").select(
            "rtype", "path", "digest",
            (n if side == "src" else zero).alias("n_src"), (n if side == "out" else zero).alias("n_out"),
        )  # fmt: skip

    # Each value's count on both sides in one aggregate (no join): its shuffle is split like any other.
    both = (
        leaves(source, "src")
        .unionByName(leaves(output, "out"))
        .groupBy("rtype", "path", "digest")
        .agg(F.sum("n_src").alias("n_src"), F.sum("n_out").alias("n_out"))
    )
    totals = both.groupBy("rtype", "path").agg(
        F.sum("n_src").alias("n_src"),
        F.sum("n_out").alias("n_out"),
        F.sum(F.least("n_src", "n_out")).alias("kept"),
    )
    label_rows = (
        output.where(F.col("rec") == "label")
        .groupBy("rtype", "norm")
        .agg(F.sum("n").alias("n_src"))
        .select("rtype", F.col("norm").alias("path"), "n_src", F.lit(0).cast("long").alias("n_out"),
                F.lit(0).cast("long").alias("kept"))
    )  # fmt: skip
    # One job for both: a path's totals (``label`` false) and a security label's count (``label`` true).
    collected = (
        totals.withColumn("label", F.lit(False))
        .unionByName(label_rows.withColumn("label", F.lit(True)))
        .collect()
    )
    totals_rows = [r for r in collected if not r["label"]]
    paths = []
    status_counts: Counter[str] = Counter()
    for row in sorted(totals_rows, key=lambda r: (r["rtype"], r["path"])):
        rtype, path = row["rtype"], row["path"]
        n_src, n_out, kept = int(row["n_src"]), int(row["n_out"]), int(row["kept"])
        status = _status(n_src, n_out, kept)
        status_counts[status] += 1
        paths.append({"resource_type": rtype, "path": path, "source_values": n_src, "output_values": n_out,
                      "kept": kept, "changed_or_removed": n_src - kept, "added": n_out - kept,
                      "status": status})  # fmt: skip
    labels: dict[str, dict[str, int]] = {}
    for row in sorted(collected, key=lambda r: (r["rtype"], r["path"])):
        if row["label"]:
            labels.setdefault(row["rtype"], {})[row["path"]] = int(row["n_src"])
    return ChangesResult(paths, labels, _rule_hits(summary), dict(status_counts))


def _status(n_src: int, n_out: int, kept: int) -> str:
    if n_src == 0:
        return "added"
    if n_out == 0:
        return "removed"
    if kept == n_src == n_out:
        return "unchanged"
    return "changed"


def _rule_hits(summary: RunSummary | None) -> list[dict[str, Any]] | None:
    """Values changed per rule as the de-identification run recorded them (``rule_hits`` of its summary)."""
    if summary is None or not summary.rule_hits:
        return None
    return [asdict(hit) for hit in summary.rule_hits]
