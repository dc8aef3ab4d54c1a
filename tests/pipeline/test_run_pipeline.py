"""``anonymizer.pipeline.run`` and ``fhir-anonymizer run`` on it: export from the built-in Bulk Data server ->
de-identify -> verify -> views, one report; and the failures that stop the chain before Spark starts."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from anonymizer.errors import ConfigError, UsageError
from anonymizer.export.client import ExportRequest, PollPolicy
from anonymizer.pipeline import PipelineRequest, run
from anonymizer.testing.fhir_server import BulkDataTestServer, ServerConfig

TYPES = ("Patient", "Encounter")  # two types of the bundled sample keep the run short


def _small_sample(sample_dir: Path, into: Path) -> Path:
    into.mkdir()
    for name in TYPES:
        for source in sample_dir.glob(f"{name}.*ndjson"):
            shutil.copy(source, into)
    return into


def _no_session() -> object:
    raise AssertionError("Spark was started before the failure was found")


def test_a_missing_landing_is_a_usage_error_before_spark_starts(tmp_path: Path, repo_root: Path) -> None:
    request = PipelineRequest(
        output=str(tmp_path / "out"), config=str(repo_root / "configs" / "hipaa-safe-harbor.json")
    )
    with pytest.raises(UsageError, match=r"no landing data at .*out/landing"):
        run(request, _no_session)  # type: ignore[arg-type]


def test_a_config_error_stops_before_the_export(tmp_path: Path, sample_dir: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"fhirPathRules": [{"path": "Patient.nmae", "method": "redact"}]}))
    request = PipelineRequest(
        output=str(tmp_path / "out"),
        config=str(config),
        export=ExportRequest(fhir_url="http://127.0.0.1:9/fhir"),  # nothing listens: never reached
    )
    with pytest.raises(ConfigError, match="Patient.nmae"):
        run(request, _no_session)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_request_folders(tmp_path: Path) -> None:
    local = PipelineRequest(output=str(tmp_path / "o"), config="c.json")
    assert (local.research, local.quarantine, local.report_dir, local.landing_dir) == tuple(
        str(tmp_path / "o" / name) for name in ("research", "quarantine", "report", "landing")
    )
    remote = PipelineRequest(output="abfss://zone@acct.dfs.core.windows.net/run-1/", config="c.json")
    assert remote.research == "abfss://zone@acct.dfs.core.windows.net/run-1/research"


@pytest.mark.spark
def test_export_deidentify_verify_views_in_one_call(
    spark: object, tmp_path: Path, repo_root: Path, sample_dir: Path
) -> None:
    data = _small_sample(sample_dir, tmp_path / "served")
    with BulkDataTestServer(ServerConfig(data_dir=data)) as server:
        report = run(
            PipelineRequest(
                output=str(tmp_path / "out"),
                config=str(repo_root / "configs" / "hipaa-safe-harbor.json"),
                export=ExportRequest(fhir_url=server.base_url),
                export_poll=PollPolicy(initial_delay_s=0.05, max_delay_s=0.2),
                as_of=date(2026, 1, 1),
                allow_ephemeral_keys=True,
                views=(str(repo_root / "views" / "patient.json"),),
            ),
            spark,  # type: ignore[arg-type]
        )
    served = sum(1 for f in data.iterdir() for line in f.read_text().splitlines() if line.strip())
    assert report.export is not None and sum(report.export.counts.values()) == served
    assert (
        report.landing == report.export.folder and Path(report.landing).parent == tmp_path / "out" / "landing"
    )
    totals = report.deidentify.summary.totals
    assert (totals.lines_in, totals.rows_out, totals.quarantined) == (served, served, 0)
    assert report.deidentify.summary.output == str(tmp_path / "out" / "research")
    assert report.passed and report.verify.report["verdict"]["leaks"] == 0
    assert Path(report.verify.report_html) == tmp_path / "out" / "report" / "report.html"
    patients = sum(1 for line in (data / "Patient.000.ndjson").read_text().splitlines() if line.strip())
    assert [(v.name, v.rows) for v in report.views] == [("patient", patients)]
    assert list(report.timings) == ["export", "deidentify", "verify", "views"]
    assert (tmp_path / "out" / "quarantine").exists() and not (
        tmp_path / "out" / "research" / "quarantine"
    ).exists()


@pytest.mark.spark
def test_cli_run_prints_the_report_of_the_library_run(
    spark: object, tmp_path: Path, repo_root: Path, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from anonymizer.cli.main import main

    landing = _small_sample(sample_dir, tmp_path / "landing")
    main(
        ["run", "--output", str(tmp_path / "out"), "--landing", str(landing), "--allow-ephemeral-keys",
         "--config", str(repo_root / "configs" / "hipaa-safe-harbor.json"), "--as-of", "2026-01-01"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "verify: leaks 0, precision violations 0, counts reconciled yes" in out
    assert f"Report:        {tmp_path / 'out' / 'report' / 'report.html'}" in out
    assert "Timings:       deidentify " in out and "views" not in out.split("Timings:")[1]


@pytest.mark.spark
def test_a_rerun_with_ephemeral_keys_replaces_the_previous_rows_and_refuses_to_merge(
    spark: object, tmp_path: Path, repo_root: Path, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ephemeral keys give every run new pseudonyms: overwrite replaces the rows, a merge is refused."""
    from anonymizer.cli.main import main

    landing = tmp_path / "landing"
    landing.mkdir()
    for source in sample_dir.glob("Patient.*ndjson"):
        shutil.copy(source, landing)
    patients = sum(1 for f in landing.iterdir() for line in f.read_text().splitlines() if line.strip())
    command = ["run", "--output", str(tmp_path / "out"), "--landing", str(landing), "--allow-ephemeral-keys",
               "--config", str(repo_root / "configs" / "hipaa-safe-harbor.json"), "--as-of", "2026-01-01"]  # fmt: skip
    table = tmp_path / "out" / "research" / "delta" / "Patient"
    main([*command, "--mode", "overwrite"])
    first = {r["id"] for r in spark.read.format("delta").load(str(table)).collect()}  # type: ignore[attr-defined]
    main([*command, "--mode", "overwrite"])
    second = {r["id"] for r in spark.read.format("delta").load(str(table)).collect()}  # type: ignore[attr-defined]
    assert len(first) == len(second) == patients and not first & second
    # A merge (the default) would keep the earlier rows as other patients: refused before anything is written.
    with pytest.raises(SystemExit) as exited:
        main(command)
    assert exited.value.code != 0
    assert "a merge would keep their rows as other patients" in capsys.readouterr().err
    assert {r["id"] for r in spark.read.format("delta").load(str(table)).collect()} == second  # type: ignore[attr-defined]


def test_demo_runs_replace_the_previous_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import anonymizer.pipeline as pipeline
    from anonymizer.cli import run as run_command
    from anonymizer.cli.main import main

    requests: list[PipelineRequest] = []

    def capture(request: PipelineRequest, spark: object) -> object:
        requests.append(request)
        raise SystemExit(0)

    monkeypatch.setattr(pipeline, "run", capture)
    with pytest.raises(SystemExit):
        main(["run", "--demo", "--output", str(tmp_path / "demo")])
    with pytest.raises(SystemExit):
        main(["run", "--demo", "--mode", "merge", "--output", str(tmp_path / "demo")])
    assert [r.mode for r in requests] == ["overwrite", "merge"]
    assert run_command.DEMO_INPUT.is_dir()
