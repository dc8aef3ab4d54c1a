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
    jvm = spark.sparkContext._jvm
    root = input_path.rstrip("/")
    hroot = jvm.org.apache.hadoop.fs.Path(root)
    fs = hroot.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def exists(path: str) -> bool:
        return bool(fs.exists(jvm.org.apache.hadoop.fs.Path(path)))

    if not exists(root):
        return InputSelection((input_path,))  # the input file check that follows names it ("input not found")
    if exists(f"{root}/{MANIFEST}") or not fs.getFileStatus(hroot).isDirectory():
        return InputSelection((input_path,))
    folders = sorted(str(s.getPath().getName()) for s in fs.listStatus(hroot) if s.isDirectory())
    exports = [name for name in folders if not name.startswith(("_", "."))]
    complete = [name for name in exports if exists(f"{root}/{name}/{MANIFEST}")]
    if STATE_FOLDER in folders or complete:
        skipped = tuple(name for name in exports if name not in complete)
        if not complete:
            raise ValueError(
                f"no completed export in {input_path} (incomplete: {', '.join(skipped) or 'none'}); "
                "re-run the export with the same arguments to finish it"
            )
        return InputSelection(tuple(f"{root}/{name}" for name in complete), skipped)
    parent = hroot.getParent()
    if parent is not None and exists(f"{parent.toString()}/{STATE_FOLDER}"):
        raise ValueError(
            f"{input_path} is an incomplete export (no {MANIFEST}); "
            "re-run the export with the same arguments to finish it"
        )
    return InputSelection((input_path,))
