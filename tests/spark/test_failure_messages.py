"""Failures end with one line naming the file and the cause, the terminal shows no Java stack trace without -v,
and a config whose rule can never match is refused before anything is read (real CLI, real Spark)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anonymizer.cli.errors import LOG_FILE_ENV
from anonymizer.cli.main import main
from anonymizer.errors import ConfigError
from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
from anonymizer.spark.summary import RunSummary
from anonymizer.verify.zone import check_source_files
from tests.strong_keys import HASH_KEY

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
NAME = "Sumiko254"  # planted: must never be published, nor printed in a message
PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": NAME}], "birthDate": "1970-05-06"}
CONFIG = {
    "fhirPathRules": [
        {"path": "Resource.id", "method": "cryptoHash"},
        {"path": "nodesByType('HumanName')", "method": "redact"},
        {"path": "nodesByType('date')", "method": "redact"},
    ],
    "parameters": {"cryptoHashKey": HASH_KEY, "enablePartialDatesForRedact": True},
}


def _landing(tmp_path: Path, *, truncated: bool) -> Path:
    landing = tmp_path / "landing"
    landing.mkdir()
    line = json.dumps(PATIENT) + "\n"
    (landing / "Patient.000.ndjson").write_text(line)
    if truncated:
        whole = gzip.compress(
            "".join(json.dumps({**PATIENT, "id": f"p{i}"}) + "\n" for i in range(2, 400)).encode()
        )
        (landing / "Patient.001.ndjson.gz").write_bytes(whole[: len(whole) // 3])
        (landing / "Encounter.000.ndjson.gz").write_bytes(whole[:100])
    return landing


def _config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def _cli(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
        raise SystemExit(0)
    out, err = capfd.readouterr()
    return int(exc.value.code or 0), out, err


def _no_stack_trace(err: str) -> None:
    assert "\tat " not in err and "Traceback" not in err and "Py4JJavaError" not in err
    assert NAME not in err


@pytest.fixture(autouse=True)
def _own_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_FILE_ENV, str(tmp_path / "run.log"))


def test_deidentify_and_verify_refuse_a_config_whose_rule_can_never_match(spark, tmp_path: Path) -> None:
    landing = _landing(tmp_path, truncated=False)
    config = _config(tmp_path, {**CONFIG, "fhirPathRules": [{"path": "Patient.nmae", "method": "redact"}]})
    request = DeidentifyRequest(input=str(landing), output=str(tmp_path / "research"), config=str(config))
    with pytest.raises(ConfigError, match=r"rule #1 \(Patient.nmae\): .*did you mean Patient.name\?"):
        run_deidentify(request, spark)
    assert not (tmp_path / "research").exists()  # before: exit 0, and every name published


def test_truncated_gzip_stops_naming_every_unreadable_file(spark, tmp_path: Path, capfd) -> None:
    landing = _landing(tmp_path, truncated=True)
    code, _, err = _cli(
        capfd, "deidentify", "--input", str(landing), "--output", str(tmp_path / "research"),
        "--config", str(_config(tmp_path, CONFIG)),
    )  # fmt: skip
    assert code == 1
    _no_stack_trace(err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: 2 of 3 input files cannot be read; nothing was written:"]
    assert f"{landing}/Patient.001.ndjson.gz (" in err and f"{landing}/Encounter.000.ndjson.gz (" in err
    assert err.count("the gzip stream ends early: the file is truncated") == 2
    assert not (tmp_path / "research").exists() and not (tmp_path / "research-quarantine").exists()


def test_skip_unreadable_files_continues_and_reconciles(spark, tmp_path: Path, capfd) -> None:
    landing = _landing(tmp_path, truncated=True)
    config = str(_config(tmp_path, CONFIG))
    research, quarantine = tmp_path / "research", tmp_path / "quarantine"
    code, out, err = _cli(
        capfd, "deidentify", "--input", str(landing), "--output", str(research), "--config", config,
        "--quarantine", str(quarantine), "--skip-unreadable-files",
    )  # fmt: skip
    assert code == 0, err
    assert "Unreadable files skipped: 2" in out
    summary = json.loads((research / "run-summary.json").read_text())
    assert summary["totals"]["lines_in"] == 1 and summary["reconciled"]
    assert sorted((Path(f["path"]).name, f["size"]) for f in summary["unreadable_files"]) == sorted(
        (p.name, p.stat().st_size) for p in landing.glob("*.gz")
    )
    records = spark.read.format("delta").load(str(quarantine / "quarantine")).collect()
    assert sorted((Path(r.source_file).name, r.reason, r.line_number, r.raw_line) for r in records) == [
        ("Encounter.000.ndjson.gz", "unreadable_file", None, None),
        ("Patient.001.ndjson.gz", "unreadable_file", None, None),
    ]

    code, out, err = _cli(
        capfd, "verify", "--source", str(landing), "--output", str(research), "--config", config,
        "--report", str(tmp_path / "report"), "--quarantine", str(quarantine),
    )  # fmt: skip
    assert code == 0, err
    assert "counts reconciled: yes" in out
    assert out.count("unreadable file, skipped by the run:") == 2
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {Path(f["path"]).name for f in report["counts"]["unreadable_files"]} == {
        "Patient.001.ndjson.gz",
        "Encounter.000.ndjson.gz",
    }

    # A file that turns unreadable after the run is not silently fewer lines: verify fails the counts.
    (landing / "Patient.000.ndjson").write_bytes("{}\n".encode("utf-16"))
    _, unreadable, problems = check_source_files(spark, [str(landing)], RunSummary.from_json_dict(summary))
    assert len(unreadable) == 3
    assert problems == [
        f"unreadable file {landing / 'Patient.000.ndjson'} (UTF-16 text (byte order mark), not UTF-8) "
        "was not skipped by the run"
    ]


def test_missing_input_and_unwritable_output_are_one_line_each(spark, tmp_path: Path, capfd) -> None:
    config = str(_config(tmp_path, CONFIG))
    code, _, err = _cli(
        capfd, "deidentify", "--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "r"), "--config", config
    )  # fmt: skip
    assert code == 1
    _no_stack_trace(err)
    assert [line for line in err.splitlines() if line] == [
        f"error: input not found: {tmp_path / 'nowhere'} (check --input)"
    ]

    landing = _landing(tmp_path, truncated=False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, _, err = _cli(
        capfd, "deidentify", "--input", str(landing), "--output", str(blocker / "research"), "--config", config
    )  # fmt: skip
    assert code == 1
    _no_stack_trace(err)
    assert [line for line in err.splitlines() if line] == [
        f"error: cannot write --output {blocker}/research: {blocker} is a file, not a folder; "
        "choose another location"
    ]


def test_missing_delta_jars_real_cli_subprocess_no_java_stack_trace(tmp_path: Path) -> None:
    """A real Java failure (the Delta classes are not there) through the installed CLI in its own process."""
    jars = tmp_path / "jars"
    jars.mkdir()
    from anonymizer.spark.jars import cached_delta_jars

    some = next(j for j in cached_delta_jars() or [] if "delta" not in j.name)
    shutil.copy(some, jars / some.name)
    landing = _landing(tmp_path, truncated=False)
    log = tmp_path / "cli.log"
    env = {**os.environ, "FHIR_ANONYMIZER_JARS_DIR": str(jars), LOG_FILE_ENV: str(log)}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("fhir-anonymizer")), "deidentify", "--input", str(landing),
         "--output", str(tmp_path / "research"), "--config", str(_config(tmp_path, CONFIG)),
         "--master", "local[1]", "--conf", "spark.ui.enabled=false"],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    _no_stack_trace(proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: Delta Lake is not available in this Spark session"
    )
    assert f"details (stack traces): {log}" in proc.stderr
    assert "\tat " in log.read_text()  # the Java stack trace exists; it went to the log file
    assert not (tmp_path / "research").exists()
