"""Fail when installing the package changed a pre-installed library: ``check_pins.py pyspark==3.5.3 ...``.

A Spark runtime (Databricks, Fabric) ships pyspark, pandas and pyarrow; our wheel must leave them alone.
"""

from __future__ import annotations

import sys
from importlib import metadata


def main(pins: list[str]) -> int:
    """Compare each ``name==version`` with what is installed; print the differences."""
    changed = []
    for pin in pins:
        name, _, wanted = pin.partition("==")
        installed = metadata.version(name)
        if installed != wanted:
            changed.append(f"{name}: pinned {wanted}, installed {installed}")
    for line in changed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
