"""``fhir-anonymizer verify`` through the real CLI entry point (exit codes, output, report files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.cli.main import main
from tests.verify import builders as b


@pytest.fixture(scope="module")
def cli_zones(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify-cli")
    source = b.source_resources()
    b.write_landing(root / "landing", source)
    correct = [b.correct_anonymization(r) for r in source]
    b.write_zone(spark, root / "correct", correct)
    # One research-zone row lost (and not quarantined): counts must not reconcile.
    b.write_zone(spark, root / "short", correct[:-1])
    (root / "config.json").write_text(json.dumps(b.safe_harbor_config()), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _test_session(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reuse the test session (local[1]) instead of starting a local[*] one per command.
    monkeypatch.setattr("anonymizer.cli.verify.session_from_args", lambda args, app_name: spark)


def _argv(root: Path, zone: str) -> list[str]:
    return ["verify", "--source", str(root / "landing"), "--output", str(root / zone),
            "--config", str(root / "config.json"), "--report", str(root / f"report-{zone}")]  # fmt: skip


def test_cli_passes_on_correct_zone(cli_zones: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(_argv(cli_zones, "correct"))
    out = capsys.readouterr().out
    assert "verification passed" in out
    assert (cli_zones / "report-correct" / "report.html").is_file()


def test_cli_exits_1_when_counts_do_not_reconcile(
    cli_zones: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(_argv(cli_zones, "short"))
    assert exc.value.code == 1
    assert "counts do not reconcile" in capsys.readouterr().err
    report = json.loads((cli_zones / "report-short" / "report.json").read_text())
    assert report["verdict"]["counts_reconciled"] is False
    assert [t["resource_type"] for t in report["counts"]["per_type"] if not t["reconciled"]] == [
        "DocumentReference"
    ]


def test_cli_rejects_missing_source(cli_zones: Path) -> None:
    argv = _argv(cli_zones, "correct")
    argv[2] = str(cli_zones / "nope")
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_cli_rejects_bad_as_of(cli_zones: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*_argv(cli_zones, "correct"), "--as-of", "yesterday"])
    assert exc.value.code == 2
