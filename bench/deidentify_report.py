"""Printing the measurements of ``bench/deidentify_bench.py``: per scale, the goals, and 1 TB on paper."""

from __future__ import annotations

from typing import Any

from spark_probe import data_mb

#: A stage is on the data path when it reads or writes at least this share of the input's bytes.
DATA_PATH_SHARE = 0.05
#: ... and funnels the data when one task moves more than a file split (spark.sql.files.maxPartitionBytes).
SPLIT_MB = 128


def best(result: dict[str, Any], what: str) -> dict[str, Any]:
    """The fastest run of one kind (the least disturbed by the other processes on the machine)."""
    return min((r for r in result["runs"] if r["what"] == what), key=lambda r: r["seconds"])


def print_scale(result: dict[str, Any]) -> None:
    """Ratio, memory, CPU, phases, writes and stages of one scale."""
    copy, deid = best(result, "copy"), best(result, "deidentify")
    gb = result["input_mb"] / 1000
    print(
        f"\nx{result['factor']}: {result['lines']:,} lines, {result['input_mb']} MB | copy {copy['seconds']}s | "
        f"de-identify {deid['seconds']}s | ratio {deid['seconds'] / copy['seconds']:.2f} (target <= 2) | "
        f"reconciled {deid['reconciled']}"
    )
    extra = [r for r in result["runs"] if r["what"] == "engine pass"]
    for run in (copy, deid, *extra[:1]):
        print(
            f"  {run['what']:<11} {run['seconds']:6.1f} s, peak RSS {run['peak_rss_mib']:.0f} MiB (JVM {run['peak_jvm_mib']:.0f}, Python "
            f"workers {run['peak_workers_mib']:.0f}, driver {run['peak_driver_mib']:.0f}) | CPU {run['cpu_s']:.1f} s = {run['cpu_s'] / gb:.0f} CPU-s/GB"
            + (f" | other processes: {run['other_processes']}" if run.get("other_processes") else "")
        )
    print(f"  de-identify phases (Arrow batches of {result['arrow_max_records_per_batch']} records):")
    for label, w in deid["windows"].items():
        print(
            f"    {label:<38} {w['seconds']:7.1f} s  CPU {w['cpu_s']:7.1f} s = {w['cpu_s'] / gb:6.0f} CPU-s/GB"
        )
    print(f"  run summary timings: {deid['timings_s']}")
    print("  timed steps (calls, summed s, window): " + "; ".join(
        f"{n} {s['calls']}x {s['sum_s']}s [{s['from_s']}-{s['to_s']}]" for n, s in deid["steps"].items()
    ))  # fmt: skip
    zone = deid["zone"]
    commits = zone["delta_commits"]
    print(
        f"  writes: staged Parquet {zone['staged_parquet']} | Delta {zone['delta']} | NDJSON {zone['ndjson']} | "
        f"quarantine {zone['quarantine']} | copy's Delta {copy['zone']['delta']}"
    )
    print(f"  Delta commits: {sum(commits.values())} in {len(commits)} tables ({commits})")
    threshold = DATA_PATH_SHARE * result["input_mb"]
    for run in (copy, deid, *extra[:1]):
        stages = run["stages"]
        data = [s for s in stages if data_mb(s) >= threshold]
        print(
            f"  {run['what']} stages: {len(stages)} (tasks per stage: {sorted(s['tasks'] for s in stages)}); "
            f"data path (>= {threshold:.1f} MB): {len(data)}, tasks {sorted(s['tasks'] for s in data)}"
        )
        by_name: dict[str, list[dict[str, Any]]] = {}
        for s in stages:
            by_name.setdefault(s["name"], []).append(s)
        for name, group in sorted(by_name.items(), key=lambda kv: -sum(s["wall_s"] for s in kv[1])):
            print(
                f"    {name[:60]:<60} {len(group):3d} stages, tasks {min(s['tasks'] for s in group)}-"
                f"{max(s['tasks'] for s in group)}, wall {sum(s['wall_s'] for s in group):6.1f} s, "
                f"task time {sum(s['run_s'] for s in group):6.1f} s (CPU "
                f"{sum(s.get('cpu_s', 0) for s in group):.1f}, GC {sum(s.get('gc_s', 0) for s in group):.1f}, "
                f"spilled {sum(s.get('spilled_mb', 0) for s in group):.0f} MB), "
                f"{sum(data_mb(s) for s in group):8.1f} MB"
            )
        for s in data:
            if s["tasks"] == 1 and data_mb(s) > SPLIT_MB:
                print(f"    SINGLE-PARTITION DATA STAGE {s['id']} {s['name']}: {data_mb(s):.1f} MB")


def print_goals(results: list[dict[str, Any]]) -> None:
    """The goal-2 checks over all scales."""
    print("\ngoals:")
    for r in results:
        copy, deid = best(r, "copy"), best(r, "deidentify")
        print(f"  x{r['factor']}: de-identify / copy = {deid['seconds'] / copy['seconds']:.2f} (<= 2)")
    base = results[0]
    t0, m0 = best(base, "deidentify")["seconds"], best(base, "deidentify")["peak_rss_mib"]
    for r in results[1:]:
        deid = best(r, "deidentify")
        size = r["lines"] / base["lines"]
        print(
            f"  x{r['factor']} vs x{base['factor']}: input x{size:.1f}, time x{deid['seconds'] / t0:.2f} "
            f"(<= {size:.1f}), peak memory x{deid['peak_rss_mib'] / m0:.2f} (<= 1.3)"
        )
    single = [
        (r["factor"], s["name"])
        for r in results
        for s in best(r, "deidentify")["stages"]
        if s["tasks"] == 1 and data_mb(s) > SPLIT_MB
    ]
    print(f"  single-task stages moving more than {SPLIT_MB} MB: {single or 'none'}")
    print_terabyte_cost(results[-1])


def print_terabyte_cost(
    result: dict[str, Any], clusters: tuple[tuple[int, int], ...] = ((4, 8), (8, 8), (16, 8))
) -> None:
    """Goal 4 on paper: 1 TB from the CPU-seconds per GB of each de-identify phase at the largest scale.

    Assumes the job stays CPU-bound and spreads evenly (no single-partition stage; the per-GB figures already
    include this machine's JVM, Python workers and driver), cores as fast as these, and no fixed costs (they do
    not grow with the input).
    """
    gb = result["input_mb"] / 1000
    deid, copy = best(result, "deidentify"), best(result, "copy")
    phases = {label: w["cpu_s"] / gb for label, w in deid["windows"].items()}
    total = deid["cpu_s"] / gb
    bound = max(phases, key=phases.get)  # type: ignore[arg-type]
    print(
        f"\n1 TB on paper (from x{result['factor']}: {total:.0f} CPU-s/GB de-identify, {copy['cpu_s'] / gb:.0f} copy):"
    )
    for label, per_gb in phases.items():
        print(f"  {label:<38} {per_gb:6.0f} CPU-s/GB = {per_gb * 1000 / 3600:7.1f} core-hours per TB")
    core_hours = total * 1000 / 3600
    print(f"  total {core_hours:.0f} core-hours per TB; bound by: {bound}")
    for workers, cores in clusters:
        print(f"  {workers} workers x {cores} cores: {core_hours / (workers * cores):.1f} h")
