"""Measuring a Spark job from inside its driver process, for the benchmarks (not shipped, not a test).

* :class:`TreeSampler`: RSS and CPU time of this process and all its descendants (the driver JVM that
  ``spark-submit`` starts, the Python worker daemon and its workers), read from ``/proc`` every few tenths of a
  second in a background thread.
* :class:`StageLog`: the stages Spark ran, with their task (= partition) counts, bytes and times, from the
  monitoring REST API of the driver's UI (the Python status tracker gives no bytes and no times). The UI must be
  enabled for the benchmark session and binds to the loopback interface (``SPARK_LOCAL_IP=127.0.0.1``).
* :class:`CallTimer`: wall-clock intervals of named module functions (wrapped in place), to see which step of a
  pipeline spends the time without changing its code.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    """One ``/proc`` reading of a process tree."""

    at: float  # time.monotonic()
    cpu_s: float  # user + system so far of the tree's processes, exited ones included
    rss_mib: float
    jvm_mib: float
    python_workers_mib: float
    driver_mib: float  # the Python driver process itself
    others: tuple[tuple[str, float], ...] = ()  # any other process of the tree: (command name, MiB)


def _proc_table() -> dict[int, tuple[int, str, int, float, int]]:
    """pid -> (ppid, command name, start time in ticks, own cpu seconds, rss bytes)."""
    table: dict[int, tuple[int, str, int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is stat field 3 (state): ppid is field 4, utime/stime 14/15, starttime 22, rss 24.
        cpu = (int(fields[11]) + int(fields[12])) / _TICK
        table[int(entry)] = (int(fields[1]), name, int(fields[19]), cpu, int(fields[21]) * _PAGE)
    return table


class _CpuLedger:
    """CPU seconds of every process ever seen in the tree, kept after it exits (its last reading).

    Only each process's own user+system time is counted (not ``cutime``), so a reaped child is never counted
    twice; a process that lives shorter than one sampling interval is missed.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[int, int], float] = {}

    def update(self, readings: dict[tuple[int, int], float]) -> float:
        self._last.update(readings)
        return sum(self._last.values())


def tree_sample(root: int, ledger: _CpuLedger | None = None) -> ProcSample:
    """RSS now, and CPU so far (with ``ledger``: including exited descendants), of ``root`` and its descendants."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    jvm = workers = driver = 0.0
    others: list[tuple[str, float]] = []
    readings: dict[tuple[int, int], float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid not in table:
            continue
        _ppid, name, started, cpu_s, rss_bytes = table[pid]
        readings[(pid, started)] = cpu_s
        if pid == root:
            driver = rss_bytes
        elif name == "java":
            jvm += rss_bytes
        elif name.startswith("python"):
            workers += rss_bytes
        else:
            # Helpers the JVM forks for a moment (Hadoop's local file system runs chmod, readlink, bash): right after
            # the fork they report the JVM's whole RSS, so they are named but not added.
            others.append((name, rss_bytes / 1024 / 1024))
        stack.extend(children.get(pid, ()))
    rss = driver + jvm + workers
    cpu = (ledger or _CpuLedger()).update(readings)
    mib = 1024 * 1024
    return ProcSample(time.monotonic(), cpu, rss / mib, jvm / mib, workers / mib, driver / mib, tuple(others))


class TreeSampler:
    """Samples :func:`tree_sample` of this process every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._root = os.getpid()
        self._ledger = _CpuLedger()
        self.samples: list[ProcSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        """Begin sampling in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (takes one last sample)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def now(self) -> ProcSample:
        """A sample taken right now (also recorded)."""
        sample = tree_sample(self._root, self._ledger)
        self.samples.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.is_set():
            self.now()
            self._stop.wait(self._interval)
        self.now()

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds used and peak RSS (total, JVM, Python workers, Python driver) between two ``time.monotonic()`` marks."""
        inside = [s for s in self.samples if start <= s.at <= end]
        before = [s for s in self.samples if s.at <= start]
        after = [s for s in self.samples if s.at >= end]
        first = before[-1] if before else (inside[0] if inside else None)
        last = after[0] if after else (inside[-1] if inside else None)
        if first is None or last is None:
            return dict.fromkeys(
                ("cpu_s", "peak_rss_mib", "peak_jvm_mib", "peak_workers_mib", "peak_driver_mib"), 0.0
            )
        span = inside or [first, last]
        return {
            "cpu_s": round(last.cpu_s - first.cpu_s, 2),
            "peak_rss_mib": round(max(s.rss_mib for s in span), 1),
            "peak_jvm_mib": round(max(s.jvm_mib for s in span), 1),
            "peak_workers_mib": round(max(s.python_workers_mib for s in span), 1),
            "peak_driver_mib": round(max(s.driver_mib for s in span), 1),
            "other_processes": sorted({name for s in span for name, _mib in s.others}),
        }


@dataclass
class StageLog:
    """Stages of one application, read from the driver UI's REST API (``/api/v1``)."""

    ui_url: str
    app_id: str
    _seen: int = -1

    def _get(self, path: str) -> Any:
        url = f"{self.ui_url.rstrip('/')}/api/v1/applications/{self.app_id}/{path}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback UI of our own driver
            return json.loads(response.read())

    def settle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until the listener has recorded the end of every stage that ran."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._get("stages?status=active"):
            time.sleep(0.2)

    def mark(self) -> int:
        """The highest stage id recorded so far (stages after it belong to the next phase)."""
        self.settle()
        ids = [s["stageId"] for s in self._get("stages")]
        self._seen = max(ids, default=-1)
        return self._seen

    def since(self, mark: int) -> list[dict[str, Any]]:
        """Stages with an id above ``mark``: id, name (the call site), status, tasks, seconds, bytes."""
        self.settle()
        out = []
        for s in self._get("stages"):
            if s["stageId"] <= mark:
                continue
            out.append(
                {
                    "id": s["stageId"],
                    "name": s.get("name", ""),
                    "status": s.get("status", ""),
                    "tasks": s.get("numTasks", 0),
                    "run_s": round(s.get("executorRunTime", 0) / 1000, 2),
                    "wall_s": _wall_seconds(s),
                    "input_mb": round(s.get("inputBytes", 0) / 1e6, 2),
                    "output_mb": round(s.get("outputBytes", 0) / 1e6, 2),
                    "shuffle_read_mb": round(s.get("shuffleReadBytes", 0) / 1e6, 2),
                    "shuffle_write_mb": round(s.get("shuffleWriteBytes", 0) / 1e6, 2),
                    "gc_s": round(s.get("jvmGcTime", 0) / 1000, 2),
                    "cpu_s": round(s.get("executorCpuTime", 0) / 1e9, 2),
                    "spilled_mb": round(s.get("diskBytesSpilled", 0) / 1e6, 2),
                }
            )
        return sorted(out, key=lambda s: s["id"])


def _wall_seconds(stage: dict[str, Any]) -> float:
    from datetime import datetime

    def parse(text: str | None) -> datetime | None:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fGMT") if text else None

    start, end = parse(stage.get("submissionTime")), parse(stage.get("completionTime"))
    return round((end - start).total_seconds(), 2) if start and end else 0.0


def data_mb(stage: dict[str, Any]) -> float:
    """Megabytes a stage read or wrote (input, output and shuffle)."""
    return stage["input_mb"] + stage["output_mb"] + stage["shuffle_read_mb"] + stage["shuffle_write_mb"]


@dataclass
class CallTimer:
    """Wall-clock intervals of wrapped functions: ``(name, label, start, end)`` with ``time.monotonic()`` marks."""

    calls: list[tuple[str, str, float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, module: Any, names: Iterable[str], label: Callable[..., str] | None = None) -> list[str]:
        """Replace each ``module.<name>`` that exists by a timed wrapper; returns the names wrapped."""
        wrapped = []
        for name in names:
            original = getattr(module, name, None)
            if original is None or getattr(original, "_timed", False):
                continue
            setattr(module, name, self._timed(name, original, label))
            wrapped.append(name)
        return wrapped

    def _timed(
        self, name: str, fn: Callable[..., Any], label: Callable[..., str] | None
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.monotonic()
                text = label(name, args) if label else ""
                with self._lock:
                    self.calls.append((name, text, start, end))

        timed._timed = True  # type: ignore[attr-defined]
        return timed

    def summary(self, since: float) -> dict[str, dict[str, float]]:
        """Per name: calls, summed seconds, and the window (first start, last end) relative to ``since``."""
        out: dict[str, dict[str, float]] = {}
        for name, _label, start, end in self.calls:
            if start < since:
                continue
            entry = out.setdefault(name, {"calls": 0, "sum_s": 0.0, "from_s": start - since, "to_s": 0.0})
            entry["calls"] += 1
            entry["sum_s"] += end - start
            entry["from_s"] = min(entry["from_s"], start - since)
            entry["to_s"] = max(entry["to_s"], end - since)
        return {k: {m: round(v, 2) for m, v in e.items()} for k, e in out.items()}
