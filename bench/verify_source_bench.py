"""verify's source pass in plain Python (not a test): CPU seconds of ``passes._source_partition`` over landing files.

Run: PYTHONPATH=. .venv/bin/python bench/verify_source_bench.py [--data DIR] [--limit N] [--rounds 3] [--profile]

Reads every ``*.ndjson`` line of ``--data`` (default: the 100-patient sample; ``--limit``: the first N lines of each
file) into Arrow batches of 2,000 rows (``file``, ``line``, as ``mapInArrow`` hands them over), runs the source
partition function over them ``--rounds`` times in this process (fresh memos each round, as a new partition) and
prints the CPU seconds of each round and the number of records it emitted. Compare two branches by running it
alternately with each one's ``PYTHONPATH``.

The realistic input is the x10 replica that ``bench/verify_bench.py --scale 10`` writes
(``~/.cache/fhir-anonymizer/bench/bulk-data-server-export-100-patients-x10``): its ten copies of each line follow one
another with distinct ids and references, so the memos are warmed by the first copy and the nine others are what a
partition of a real export costs (ids and references never met before). ``--limit 8000`` keeps about a third of it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_bench import DEFAULT_DATA  # noqa: E402

_BATCH = 2000  # spark.sql.execution.arrow.maxRecordsPerBatch of the sessions (settings.py)


def load(data: Path, limit: int | None = None) -> list[pa.RecordBatch]:
    """The landing lines (the first ``limit`` of each file) as Arrow batches of ``file``, ``line``."""
    files: list[str] = []
    lines: list[str] = []
    for path in sorted(data.rglob("*.ndjson")):
        for line in path.read_text().splitlines()[:limit]:
            files.append(f"file:{path}")
            lines.append(line)
    table = pa.table({"file": files, "line": lines})
    return table.to_batches(max_chunksize=_BATCH)


def one_round(batches: list[pa.RecordBatch]) -> tuple[float, int]:
    from anonymizer.verify.passes import _source_partition

    start = time.process_time()
    rows = sum(out.num_rows for out in _source_partition(iter(batches)))
    return time.process_time() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="the first N lines of each file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one round, print the top 30")
    args = parser.parse_args()
    batches = load(args.data, args.limit)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_round(batches)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return
    results = [one_round(batches) for _ in range(args.rounds)]
    print(json.dumps({"cpu_s": [round(s, 3) for s, _ in results], "records": results[0][1],
                      "lines": sum(b.num_rows for b in batches)}))  # fmt: skip


if __name__ == "__main__":
    main()
