"""Digest of a research zone's published content, for byte-identical comparisons across code versions.

For every resource type: the SHA-256 of the sorted lines of ``ndjson/<Type>/part-*`` and of the sorted Delta rows
(``id``, ``patient_key``, ``last_updated``, ``resource`` as JSON text; ``run_id`` left out, it differs per run).
Prints one JSON object ``{"ndjson": {type: sha}, "delta": {type: sha}}``; two zones written from the same input
with the same keys and ``--as-of`` must print the same. Reads the NDJSON from the local file system and the
tables with a local Spark session (delta-rs is not needed).

    .venv/bin/python scripts/zone_digest.py ZONE [ZONE2]   # with two zones: exit 1 when they differ,
                                                            # 2 when either has no tables
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any


def ndjson_digests(zone: Path) -> dict[str, str]:
    """Per type: SHA-256 of the sorted NDJSON lines (none when the zone has no NDJSON: ``deidentify`` without
    ``--ndjson``)."""
    out: dict[str, str] = {}
    if not (zone / "ndjson").is_dir():
        return out
    for folder in sorted(p for p in (zone / "ndjson").iterdir() if p.is_dir()):
        lines: list[bytes] = []
        for part in sorted(folder.glob("part-*")):
            if part.suffix in (".ndjson", ".txt"):
                lines.extend(part.read_bytes().splitlines())
        out[folder.name] = hashlib.sha256(b"\n".join(sorted(lines))).hexdigest()
    return out


def delta_digests(zone: Path) -> dict[str, str]:
    """Per type: SHA-256 of the sorted table rows (run_id excluded)."""
    from anonymizer.spark.resource_format import resource_json
    from anonymizer.spark.session import local_session
    from anonymizer.spark.zone import ResearchZone

    spark = local_session("local[2]", app_name="zone-digest")
    out = {}
    research = ResearchZone(str(zone))
    for name in research.resource_types(spark):
        table = spark.read.format("delta").load(research.table(name))
        rows = table.select("id", "patient_key", "last_updated", resource_json(table).alias("r")).collect()
        text = sorted(json.dumps([r["id"], r["patient_key"], str(r["last_updated"]), r["r"]]) for r in rows)
        out[name] = hashlib.sha256("\n".join(text).encode("utf-8")).hexdigest()
    return out


def digest(zone: Path) -> dict[str, Any]:
    """Both digests of one zone."""
    return {"ndjson": ndjson_digests(zone), "delta": delta_digests(zone)}


def main(argv: list[str]) -> int:
    """Print the digest of one zone, or compare two (exit 1 when they differ)."""
    digests = [digest(Path(z)) for z in argv]
    if len(digests) == 1:
        print(json.dumps(digests[0], indent=2, sort_keys=True))
        return 0
    first, second = digests
    empty = [zone for zone, d in zip(argv, digests, strict=True) if not d["delta"]]
    if empty:
        # Nothing to compare is a failed check, not a pass (e.g. a deidentify that did not run).
        print(f"no research tables in: {', '.join(empty)}", file=sys.stderr)
        return 2
    # NDJSON is compared when both zones have it (it is optional).
    parts = ("ndjson", "delta") if first["ndjson"] and second["ndjson"] else ("delta",)
    differ = [
        f"{part}/{t}"
        for part in parts
        for t in sorted(set(first[part]) | set(second[part]))
        if first[part].get(t) != second[part].get(t)
    ]
    types = len(first["delta"])
    print(
        f"{types} types, compared: {' and '.join(parts)}; differing: {', '.join(differ) if differ else 'none'}"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
