"""Shared pieces of the export tests: a small server data folder and a fast poll policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.export.client import PollPolicy

SAMPLE = Path(__file__).parents[2] / "examples" / "synthea-10-patients"
TYPES = ("Patient", "Device", "AllergyIntolerance")
#: Lines per type in the sample files above.
LINES = {"AllergyIntolerance": 11, "Device": 16, "Patient": 13}


def run_cli(argv: list[str]) -> int:
    """Run ``fhir-anonymizer`` in this process; returns its exit code."""
    from anonymizer.cli.main import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def fast_policy(**kw: object) -> PollPolicy:
    """Tiny delays, no real sleeping (the server's Retry-After tests use a real sleep)."""
    return PollPolicy(initial_delay_s=0.001, max_delay_s=0.01, sleep=lambda s: None, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def small_data(tmp_path: Path) -> Path:
    """Three sample NDJSON files the test server serves."""
    folder = tmp_path / "server-data"
    folder.mkdir()
    for name in TYPES:
        (folder / f"{name}.000.ndjson").write_bytes((SAMPLE / f"{name}.000.ndjson").read_bytes())
    return folder
