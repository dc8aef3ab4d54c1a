"""verify's output pass in pure Python (not a test): CPU time of its per-partition function, old vs new.

Run (once, with Spark): .venv/bin/python bench/verify_scan_bench.py prepare --source DIR --zone DIR --config FILE
    writes the research-zone rows the output pass reads (per Spark partition) and the harvest Bloom filter to
    ``--cache`` (default ~/.cache/fhir-anonymizer/verify-scan).
Then: .venv/bin/python bench/verify_scan_bench.py run --baseline /path/to/other/checkout [--repeat 3]
    runs ``passes._output_partition`` over every partition in a fresh process per code tree, alternating the
    baseline checkout and this one, prints the CPU seconds of each, and checks that the aggregated records (summed
    ``n`` per record key; ``cand`` records as a set) are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "fhir-anonymizer" / "verify-scan"

WORKER = textwrap.dedent(
    """
    import hashlib, pickle, sys, time
    from collections import Counter
    import pyarrow.parquet as pq
    from anonymizer.verify import passes
    assert passes.__file__.startswith(sys.argv[3]), passes.__file__
    cache, digest_out, scale = sys.argv[1], sys.argv[2], int(sys.argv[4])
    with open(cache + "/args.pkl", "rb") as f:
        args = pickle.load(f)
    table = pq.read_table(cache + "/rows.parquet")
    if scale > 1:  # copies with distinct pseudonyms (64 hex digits), as bench/pipeline_bench.py's input has
        import re
        import pyarrow as pa
        hexes = re.compile("[0-9a-f]{64}")
        texts = table.column("json").to_pylist()
        copies = [table]
        for copy in range(1, scale):
            def other(m, copy=copy):
                return hashlib.blake2b(f"{copy}:{m.group(0)}".encode(), digest_size=32).hexdigest()
            t = table.set_column(table.schema.get_field_index("json"), table.schema.field("json"),
                                 pa.array([None if x is None else hexes.sub(other, x) for x in texts]))
            t = t.set_column(0, table.schema.field("uid"),
                             pa.array([u + copy * 10**9 for u in table.column("uid").to_pylist()]))
            copies.append(t)
        table = pa.concat_tables(copies)
    parts = {}
    import pyarrow.compute as pc
    for pid in sorted(set(table.column("pid").to_pylist())):
        sub = table.filter(pc.equal(table.column("pid"), pid))
        parts[pid] = sub.select(["uid", "rtype", "patient_key", "run_id", "json"]).to_batches(max_chunksize=10_000)
    sums = Counter()
    cands = set()
    cpu = 0.0
    for pid in sorted(parts):
        run = passes._output_partition(*args)
        start = time.process_time()
        out = list(run(iter(parts[pid])))
        cpu += time.process_time() - start
        for batch in out:
            for row in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns))):
                if row[0] == "cand":  # compared without the value digest (older trees emit none)
                    cands.add(row[:7] + (None,) + row[8:])
                else:  # a digest as bytes (older trees) or as its 64-bit integer: compared as the integer
                    digest = row[7] if not isinstance(row[7], bytes) else int.from_bytes(row[7], "little", signed=True)
                    sums[row[:7] + (digest,)] += row[8]
    h = hashlib.sha256()
    for key in sorted(sums, key=repr):
        h.update(repr((key, sums[key])).encode())
    for row in sorted(cands, key=repr):
        h.update(repr(row).encode())
    if digest_out != "-":
        with open(digest_out, "wb") as f:
            pickle.dump((sums, cands), f)
    print(f"{cpu:.3f} {h.hexdigest()} {table.num_rows} {len(parts)}")
    """
)


def prepare(args: argparse.Namespace) -> None:
    """Write the output pass's input rows (with their Spark partition) and arguments to the cache."""
    from pyspark.sql import functions as F

    from anonymizer.spark.session import local_session
    from anonymizer.spark.zone import ResearchZone
    from anonymizer.verify.harvest_frame import prepare_harvest
    from anonymizer.verify.identifier_checks import address_keeping_types
    from anonymizer.verify.passes import source_pass
    from anonymizer.verify.precision_checks import promises_from_config
    from anonymizer.verify.run_config import load_verify_config
    from anonymizer.verify.zone import read_output, read_run_summary, read_source_lines, source_paths
    from anonymizer.views.audit import views_audit_frame

    spark = local_session("local[2]", app_name="verify-scan-prepare")
    config = load_verify_config(str(args.config)).config
    zone = ResearchZone(str(args.zone))
    summary = read_run_summary(spark, zone)
    promises = promises_from_config(config)
    lines = read_source_lines(spark, source_paths(spark, str(args.source)))
    source = source_pass(lines).persist()
    harvest = prepare_harvest(source, audit_dates=promises.dates in ("year", "removed"))
    rows = read_output(spark, zone)
    views = views_audit_frame(spark, str(args.zone))
    audited = rows if views is None else rows.unionByName(views)
    audited = audited.select(
        "uid", "rtype", "patient_key", "run_id", "json", F.spark_partition_id().alias("pid")
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    table = audited.toArrow() if hasattr(audited, "toArrow") else None
    if table is None:
        import pyarrow as pa

        table = pa.Table.from_pandas(audited.toPandas(), preserve_index=False)
    import pyarrow.parquet as pq

    pq.write_table(table, args.cache / "rows.parquet")
    from datetime import date

    from anonymizer.verify.pipeline import _summary_as_of

    as_of = args.as_of or _summary_as_of(summary) or date.today()
    run_id = summary.run_id if summary else None
    with open(args.cache / "args.pkl", "wb") as f:
        pickle.dump((harvest.bloom, promises, as_of, address_keeping_types(config), run_id), f)
    print(f"{table.num_rows} rows written to {args.cache}")


def run(args: argparse.Namespace) -> None:
    """Alternate the baseline checkout and this one, each in a fresh process; compare aggregated records."""
    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    digests: dict[str, set[str]] = {name: set() for name in trees}
    for round_ in range(args.repeat):
        for name, tree in trees.items():
            dump = str(args.cache / f"records-{name}.pkl") if round_ == 0 else "-"
            proc = subprocess.run(
                [sys.executable, "-c", WORKER, str(args.cache), dump, str(tree), str(args.scale)],
                capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed: {proc.stderr[-2000:]}")
            seconds, digest, nrows, nparts = proc.stdout.split()
            cpu[name].append(float(seconds))
            digests[name].add(digest)
            print(
                f"round {round_} {name:8s} {float(seconds):7.2f} CPU-s  ({nrows} rows, {nparts} partitions) {digest[:16]}"
            )
            sys.stdout.flush()
    best = {name: min(values) for name, values in cpu.items()}
    print(json.dumps({"best_cpu_s": best, "ratio_this_over_baseline": best["this"] / best["baseline"],
                      "load": Path("/proc/loadavg").read_text().split()[:3]}))  # fmt: skip
    same = digests["baseline"] == digests["this"] and len(digests["this"]) == 1
    print("aggregated records identical:", same)
    if not same:
        with open(args.cache / "records-baseline.pkl", "rb") as f:
            old_sums, old_cands = pickle.load(f)
        with open(args.cache / "records-this.pkl", "rb") as f:
            new_sums, new_cands = pickle.load(f)
        diff = [k for k in set(old_sums) | set(new_sums) if old_sums.get(k) != new_sums.get(k)]
        print(f"{len(diff)} aggregated keys differ, cand only-old {len(old_cands - new_cands)}, "
              f"only-new {len(new_cands - old_cands)}")  # fmt: skip
        for key in sorted(diff, key=repr)[:10]:
            print("  ", key[:3], key[3:7], hashlib.sha256(repr(key).encode()).hexdigest()[:8],
                  old_sums.get(key), new_sums.get(key))  # fmt: skip
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--source", type=Path, required=True)
    p.add_argument("--zone", type=Path, required=True)
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    p.add_argument("--as-of", type=lambda s: __import__("datetime").date.fromisoformat(s), default=None)
    p.add_argument("--cache", type=Path, default=CACHE)
    r = sub.add_parser("run")
    r.add_argument("--baseline", type=Path, required=True)
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--scale", type=int, default=1, help="copies of the rows with distinct pseudonyms")
    r.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    prepare(args) if args.cmd == "prepare" else run(args)


if __name__ == "__main__":
    main()
