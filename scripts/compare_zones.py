"""Differential check of two research zones: same rows in every Delta table, same NDJSON lines, same quarantine.

Run: .venv/bin/python scripts/compare_zones.py ZONE_A ZONE_B [--quarantine-a DIR --quarantine-b DIR]

Two runs of ``deidentify`` on the same input with the same keys and ``--as-of`` (e.g. one from an older commit,
in a ``git worktree``) must produce byte-identical resources. Rows are compared sorted, per table, on every
column but ``run_id`` (which names the run); NDJSON lines sorted per type folder, when both zones have them.
Tables are read with delta-rs (no Spark). Exit 0 when equal, 1 with the first differences (names and counts
only: never resource values). Without delta-rs installed (``pip install deltalake``) it cannot run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

IGNORED_COLUMNS = {"run_id"}


def table_digest(path: Path) -> tuple[int, str]:
    """(rows, SHA-256 over the sorted rows of every column but ``run_id``) of one Delta table."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path)).to_pyarrow_table()
    columns = sorted(c for c in table.column_names if c not in IGNORED_COLUMNS)
    rows = sorted(json.dumps([row[c] for c in columns], default=str) for row in table.select(columns).to_pylist())
    return len(rows), _digest(rows)


def ndjson_digest(folder: Path) -> tuple[int, str]:
    """(lines, SHA-256 over the sorted lines) of one type's NDJSON folder."""
    lines = sorted(
        line for part in sorted(folder.glob("part-*")) for line in part.read_text(encoding="utf-8").splitlines()
    )
    return len(lines), _digest(lines)


def _digest(lines: list[str]) -> str:
    sha = hashlib.sha256()
    for line in lines:
        sha.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return sha.hexdigest()


def compare(a: Path, b: Path, quarantine_a: Path | None, quarantine_b: Path | None) -> list[str]:
    """Differences between two zones (empty when equal), as safe messages: table names and counts only."""
    problems: list[str] = []
    tables_a = {p.name for p in (a / "delta").iterdir() if (p / "_delta_log").is_dir() and p.name != "_runs"}
    tables_b = {p.name for p in (b / "delta").iterdir() if (p / "_delta_log").is_dir() and p.name != "_runs"}
    if tables_a != tables_b:
        problems.append(f"tables differ: only in A {sorted(tables_a - tables_b)}, only in B {sorted(tables_b - tables_a)}")
    for name in sorted(tables_a & tables_b):
        da, db = table_digest(a / "delta" / name), table_digest(b / "delta" / name)
        if da != db:
            problems.append(f"delta/{name}: {da[0]} rows vs {db[0]} rows, contents differ")
    if (a / "ndjson").is_dir() and (b / "ndjson").is_dir():
        for folder in sorted((a / "ndjson").iterdir()):
            other = b / "ndjson" / folder.name
            da = ndjson_digest(folder)
            db = ndjson_digest(other) if other.is_dir() else (0, "")
            if da != db:
                problems.append(f"ndjson/{folder.name}: {da[0]} lines vs {db[0]} lines, contents differ")
    if quarantine_a and quarantine_b:
        qa, qb = quarantine_a / "quarantine", quarantine_b / "quarantine"
        if qa.is_dir() != qb.is_dir() or (qa.is_dir() and table_digest(qa) != table_digest(qb)):
            problems.append("quarantine tables differ")
    summary_a = json.loads((a / "run-summary.json").read_text(encoding="utf-8"))
    summary_b = json.loads((b / "run-summary.json").read_text(encoding="utf-8"))
    if summary_a["counts"] != summary_b["counts"]:
        problems.append("run-summary counts differ")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zone_a", type=Path)
    parser.add_argument("zone_b", type=Path)
    parser.add_argument("--quarantine-a", type=Path)
    parser.add_argument("--quarantine-b", type=Path)
    args = parser.parse_args()
    problems = compare(args.zone_a, args.zone_b, args.quarantine_a, args.quarantine_b)
    tables = sorted(p.name for p in (args.zone_a / "delta").iterdir() if p.name != "_runs")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"identical: {len(tables)} tables ({', '.join(tables)}), NDJSON where both have it, quarantine, counts")


if __name__ == "__main__":
    main()
