"""deidentify and verify through a local Spark Connect server (``--remote``), against a classic run's counts.

The server runs in its own process, bound to 127.0.0.1 on a free port; the CLI runs in further processes as a
user would run it. The research zone is given to verify as a ``file:`` URI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.connect_server import connect_server_available

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not connect_server_available(), reason="needs pyspark 4 with the connect extra"),
]

TYPES = ("Patient", "Encounter", "Condition")
BAD_LINES = ["{not json", "", '{"resourceType": "Alien", "id": "a1"}']
_CLI_TIMEOUT_S = 900


def _landing(sample_dir: Path, landing: Path) -> None:
    landing.mkdir(parents=True)
    for name in TYPES:
        lines = (sample_dir / f"{name}.000.ndjson").read_text(encoding="utf-8").splitlines(keepends=True)
        (landing / f"{name}.000.ndjson").write_text("".join(lines[:40]), encoding="utf-8")
    (landing / "Patient.001.ndjson").write_text("\n".join(BAD_LINES) + "\n", encoding="utf-8")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).with_name("fhir-anonymizer")
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=_CLI_TIMEOUT_S)


@pytest.fixture(scope="module")
def runs(
    spark: Any, connect_url: str, sample_dir: Path, repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify

    root = tmp_path_factory.mktemp("connect")
    landing = root / "landing"
    _landing(sample_dir, landing)
    config = str(repo_root / "configs" / "hipaa-safe-harbor.json")
    classic = run_deidentify(
        DeidentifyRequest(input=str(landing), output=str(root / "classic"), config=config,
                          as_of=date(2026, 1, 1), allow_ephemeral_keys=True),
        spark,
    )  # fmt: skip
    zone, quarantine = root / "remote", root / "remote-quarantine"
    url = connect_url
    deidentify = _cli("deidentify", "--remote", url, "--input", str(landing), "--output", str(zone),
                      "--quarantine", str(quarantine), "--config", config, "--as-of", "2026-01-01",
                      "--allow-ephemeral-keys", "--ndjson")  # fmt: skip
    verify = _cli("verify", "--remote", url, "--source", str(landing), "--output", zone.as_uri(),
                  "--quarantine", str(quarantine), "--config", config, "--report", str(root / "report"))  # fmt: skip
    return {"classic": classic, "zone": zone, "deidentify": deidentify, "verify": verify, "root": root}


def test_deidentify_through_connect_matches_the_classic_counts(runs: dict[str, Any]) -> None:
    assert runs["deidentify"].returncode == 0, runs["deidentify"].stderr[-2000:]
    remote = json.loads((runs["zone"] / "run-summary.json").read_text(encoding="utf-8"))
    classic = runs["classic"].summary.to_json_dict()
    assert remote["counts"] == classic["counts"]
    assert remote["totals"]["quarantined"] == len(BAD_LINES) and remote["reconciled"]
    assert sorted(p.name for p in (runs["zone"] / "ndjson").iterdir()) == sorted(TYPES)


def test_verify_through_connect_on_a_file_uri_passes(runs: dict[str, Any]) -> None:
    assert runs["verify"].returncode == 0, runs["verify"].stdout[-2000:] + runs["verify"].stderr[-2000:]
    report = json.loads((runs["root"] / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"]["passed"] and report["verdict"]["leaks"] == 0
    assert report["counts"]["reconciled"]
    assert report["counts"]["totals"]["source_lines"] == runs["classic"].summary.totals.lines_in
