"""What ``deidentify`` checks before the anonymization pass, so that a run does not fail after the long part.

- the research zone and the quarantine can be written (local paths: the first existing folder above each is a
  writable folder, not a file);
- Delta Lake is available in the session (its data source resolves).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.errors import AnonymizerError
from anonymizer.spark.failures import diagnose

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class PreflightError(AnonymizerError, RuntimeError):
    """A check before the run failed; the message names the path or setting and what to do."""


def require_writable(location: str, option: str) -> None:
    """Raise when a local ``location`` cannot be created or written (URIs are left to the storage layer)."""
    if "://" in location and not location.startswith("file:"):
        return
    path = Path(location.removeprefix("file://").removeprefix("file:")).absolute()
    if path.exists() and not path.is_dir():
        raise PreflightError(f"cannot write {option} {location}: it is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PreflightError(
            f"cannot write {option} {location}: {existing} is a file, not a folder; choose another location"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PreflightError(
            f"cannot write {option} {location}: permission denied on {existing}; choose a location this user "
            "can write or fix its permissions"
        )


def require_delta(spark: SparkSession, probe: str) -> None:
    """Raise when the session cannot resolve the Delta data source (``probe``: any path; nothing is written)."""
    try:
        spark.read.format("delta").load(probe).schema  # noqa: B018  (resolving is the check)
    except Exception as exc:
        message = diagnose(exc)
        if message and message.startswith("Delta Lake is not available"):
            raise PreflightError(message) from exc
        # Anything else (the probe path does not exist, as intended) means the data source resolved.
