"""Engine micro-benchmark: resources/s, and the ratio to a plain orjson round trip of the same lines.

Run: .venv/bin/python bench/engine_bench.py [--data DIR] [--config FILE] [--repeat N]

The ratio (orjson round-trip time / engine time) is measured in the same process on the same lines, so it is
comparable across machines; 0.25 means anonymizing costs 4x parsing and serialising.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import orjson

from anonymizer.engine import Anonymizer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("/work/shared/data/synthea/bulk-data-server-export-100-patients")
FALLBACK_DATA = ROOT / "examples" / "synthea-10-patients"
DEFAULT_CONFIG = ROOT / "configs" / "ms-r4-configuration-sample.json"


def load_lines(folder: Path) -> list[bytes]:
    """Every non-blank line of every NDJSON file in ``folder``."""
    lines: list[bytes] = []
    for path in sorted(folder.glob("*.ndjson")):
        lines.extend(line for line in path.read_bytes().splitlines() if line.strip())
    return lines


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top functions (cProfile)")
    args = parser.parse_args()

    lines = load_lines(args.data)
    engine = Anonymizer.from_config_file(args.config, as_of=date(2026, 1, 1), allow_ephemeral_keys=True)

    def baseline() -> None:
        for line in lines:
            orjson.dumps(orjson.loads(line))

    def anonymize() -> None:
        for line in lines:
            engine.anonymize_json(line)

    anonymize()  # warm the per-type plans and caches
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("anonymize()", globals(), {"anonymize": anonymize})
        pstats.Stats().sort_stats("cumulative").print_stats(25)
    t_base = best_of(args.repeat, baseline)
    t_engine = best_of(args.repeat, anonymize)
    mb = sum(len(line) for line in lines) / 1e6
    print(
        f"data: {args.data} ({len(lines)} resources, {mb:.1f} MB); config: {args.config.name} ({len(engine.config.rules)} rules)"
    )
    print(f"orjson round trip: {len(lines) / t_base:,.0f} resources/s ({t_base:.2f}s)")
    print(f"anonymizer:        {len(lines) / t_engine:,.0f} resources/s ({t_engine:.2f}s)")
    print(f"ratio (round trip time / anonymizer time): {t_base / t_engine:.3f}  (target >= 0.25)")


if __name__ == "__main__":
    main()
