"""Which folders of a landing ``deidentify`` reads: completed exports only (their ``manifest.json`` is present).

The export client writes an export's manifest last, so a folder without one is an export still in flight (or
interrupted): reading it next to the export that finishes it would land the same resources twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MANIFEST = "manifest.json"
STATE_FOLDER = "_state"


@dataclass(frozen=True)
class InputSelection:
    """The paths to read and the incomplete export folders left out (names relative to the input)."""

    paths: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def select_completed_exports(spark: SparkSession, input_path: str) -> InputSelection:
    """Completed exports of a landing, or the input as it is when it is not an export landing.

    * ``input`` holds ``manifest.json``: one completed export, read whole.
    * ``input`` is a landing (it has ``_state/`` or a sub-folder with a manifest): its sub-folders with a
      manifest are read, the others are skipped and named.
    * ``input`` is a folder of a landing without a manifest: an incomplete export, refused (``ValueError``).
    * anything else (a plain folder of NDJSON): read whole, as before.
    """
    from anonymizer.spark import zone_fs

    root = input_path.rstrip("/")
    entries = zone_fs.children(spark, root)
    # A missing input (or a single file) is the file check's to report or read, not this selection's.
    if entries is None or entries.get(MANIFEST) is False:
        return InputSelection((input_path,))
    exports = sorted(name for name, is_dir in entries.items() if is_dir and not name.startswith(("_", ".")))
    complete = [
        name for name in exports if (zone_fs.children(spark, f"{root}/{name}") or {}).get(MANIFEST) is False
    ]
    if STATE_FOLDER in entries or complete:
        skipped = tuple(name for name in exports if name not in complete)
        if not complete:
            raise ValueError(
                f"no completed export in {input_path} (incomplete: {', '.join(skipped) or 'none'}); "
                "re-run the export with the same arguments to finish it"
            )
        return InputSelection(tuple(f"{root}/{name}" for name in complete), skipped)
    parent = root.rsplit("/", 1)[0] if "/" in root else None
    if parent and (zone_fs.children(spark, parent) or {}).get(STATE_FOLDER):
        raise ValueError(
            f"{input_path} is an incomplete export (no {MANIFEST}); "
            "re-run the export with the same arguments to finish it"
        )
    return InputSelection((input_path,))
