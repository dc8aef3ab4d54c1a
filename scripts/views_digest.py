"""Digest of the starter views over a research zone, for comparing the rows of two code versions.

Materializes the starter views (``views/``, or ``--views``) over ZONE into a temporary folder with the code on
``PYTHONPATH`` and prints, per view, the row count and the SHA-256 of its rows (each row as JSON with sorted keys,
rows sorted). With ``--save FILE`` the digest is written as JSON; with ``--against FILE`` it is compared to a saved
one (exit 1 when any view differs, naming the views).

    PYTHONPATH=<tree> .venv/bin/python scripts/views_digest.py ZONE --save main.json
    PYTHONPATH=<other tree> .venv/bin/python scripts/views_digest.py ZONE --against main.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def digests(zone: str, view_paths: list[str]) -> dict[str, dict[str, object]]:
    """Per view: ``{"rows": n, "sha256": digest of the sorted rows}``."""
    from anonymizer.spark.session import local_session
    from anonymizer.views.materialize import load_views, materialize

    spark = local_session("local[2]", app_name="views-digest")
    out = Path(tempfile.mkdtemp(prefix="views-digest-"))
    try:
        written = materialize(load_views(view_paths), zone, spark, output=str(out))
        result: dict[str, dict[str, object]] = {}
        for table in written:
            frame = spark.read.format("delta").load(table.path)
            rows = sorted(
                json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in frame.collect()
            )
            digest = hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()
            result[table.name] = {"rows": len(rows), "schema": frame.schema.simpleString(), "sha256": digest}
        return result
    finally:
        shutil.rmtree(out, ignore_errors=True)
        spark.stop()


def main() -> int:
    """Print (and save or compare) the digest."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("zone")
    parser.add_argument("--views", nargs="*", default=[str(ROOT / "views")])
    parser.add_argument("--save")
    parser.add_argument("--against")
    args = parser.parse_args()
    result = digests(args.zone, args.views)
    print(json.dumps(result, indent=1, sort_keys=True))
    if args.save:
        Path(args.save).write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
    if args.against:
        expected = json.loads(Path(args.against).read_text(encoding="utf-8"))
        differing = sorted(n for n in set(expected) | set(result) if expected.get(n) != result.get(n))
        if differing:
            print(f"views differ: {differing}", file=sys.stderr)
            return 1
        print(f"all {len(result)} views identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
