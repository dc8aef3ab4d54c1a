"""Give a Python worker's freed memory back to the system at the end of its task.

Spark reuses its Python workers (``spark.python.worker.reuse``, on by default): after the transform's last task
they stay alive, idle, through the stage and publish steps. Freeing a task's engine (its plans and memos) returns
its objects to the allocators, but neither glibc's ``malloc`` nor Arrow's memory pool (mimalloc) gives the pages
back on its own, so an idle worker kept the high-water mark of its largest task (about 220 MiB after a
120,000-line task, of which about 60 MiB come back below; docs/performance.md, tenth session).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from functools import lru_cache
from typing import Any


def release_freed_memory() -> None:
    """Collect garbage, then ask glibc (``malloc_trim``, Linux only) and Arrow's default pool to return free pages.

    Best effort: on another C library or an Arrow without ``release_unused`` the missing step is skipped.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    try:
        import pyarrow as pa

        release = getattr(pa.default_memory_pool(), "release_unused", None)
        if release is not None:
            release()
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the Spark extra
        pass


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (``None`` off Linux or on a C library without it, e.g. musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
