"""One step timer for the pipelines: wall-clock seconds per named step, logged as each step ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StepTimer:
    """Seconds per named step, in the order the steps ran (a step that runs twice adds up)."""

    def __init__(self, log: logging.Logger, what: str, *, digits: int = 3) -> None:
        self._log, self._what, self._digits = log, what, digits
        self._started = time.monotonic()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as step ``name`` (also when it raises)."""
        start = time.monotonic()
        try:
            yield
        finally:
            spent = round(time.monotonic() - start, self._digits)
            self.seconds[name] = round(self.seconds.get(name, 0.0) + spent, self._digits)
            self._log.info("%s: %s done in %.1fs", self._what, name, spent)

    def total(self) -> float:
        """Seconds since the timer was created."""
        return round(time.monotonic() - self._started, self._digits)
