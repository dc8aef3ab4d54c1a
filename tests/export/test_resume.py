"""Point 4 of issue 12: an export interrupted during downloads is continued by a re-run with the same arguments,
which downloads only the missing files; it starts over only when the server says the export expired."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anonymizer.export.client import ExportRequest
from anonymizer.export.runner import run_export
from anonymizer.storage.landing import LocalLanding
from anonymizer.testing.fhir_server import BulkDataTestServer, Faults, ServerConfig
from tests.export.conftest import LINES, fast_policy
from tests.strong_keys import HASH_KEY

CLI = [sys.executable, "-c", "from anonymizer.cli.main import main; main()"]


class Stop(Exception):
    """Stands for a crash of the client process (not a Ctrl-C: no DELETE is sent)."""


def _downloads(server: BulkDataTestServer) -> list[str]:
    return [p.rsplit("/", 1)[-1] for m, p in server.requests if p.startswith("/files/")]


def _interrupt_after(files: int, error: type[BaseException] = KeyboardInterrupt):
    landed = []

    def progress(message: str) -> None:
        if message.startswith("landed "):
            landed.append(message)
            if len(landed) == files:
                raise error

    return progress


def interrupted_then_resumed(server: BulkDataTestServer, landing: Path) -> tuple[object, list[str]]:
    """Interrupt the export after its first file (Ctrl-C), then run it again; returns the second result and the
    files the second run downloaded."""
    request = ExportRequest(fhir_url=server.base_url, types=tuple(LINES))
    with pytest.raises(KeyboardInterrupt):
        run_export(request, LocalLanding(landing), policy=fast_policy(), progress=_interrupt_after(1))
    before = len(_downloads(server))
    result = run_export(request, LocalLanding(landing), policy=fast_policy(), progress=lambda m: None)
    return result, _downloads(server)[before:]


def test_cli_interrupted_by_sigint_during_downloads_resumes_with_the_same_command(
    small_data: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    faults = Faults(pending_polls=0, stall_after_files=1)
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        command = [*CLI, "export", "--fhir-url", server.base_url, "--landing", str(landing)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while server.stalled_downloads() == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stalled_downloads() == 1, "the second download is in progress"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "1 files of export" in err and "run the same command again" in err
        assert not any(m == "DELETE" for m, _ in server.requests), (
            "the server's files are kept for the re-run"
        )
        (folder,) = [p for p in landing.iterdir() if p.name != "_state"]
        first = sorted(p.name for p in folder.glob("*.ndjson"))
        assert len(first) == 1 and not (folder / "manifest.json").exists()
        assert not list(folder.glob(".*.partial")), "the interrupted file left no temporary file"
        record = json.loads(next((landing / "_state" / "in_flight").glob("*.json")).read_text())
        assert list(record["landed"]) == [f"{folder.name}/{first[0]}"]

        server.release()
        before = len(_downloads(server))
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=60)
        again = _downloads(server)[before:]
    assert rerun.returncode == 0, rerun.stderr
    assert "continuing export" in rerun.stderr and "(2 downloaded by this run, resumed)" in rerun.stdout
    assert len(again) == 2 and first[0] not in again, "only the missing files are downloaded"
    assert len([m for m, p in server.requests if p.endswith("$export")]) == 1
    for name in LINES:
        assert (folder / f"{name}.000.ndjson").read_bytes() == (
            small_data / f"{name}.000.ndjson"
        ).read_bytes()
    assert (folder / "manifest.json").is_file()
    assert not list((landing / "_state" / "in_flight").glob("*.json"))


def test_resume_in_process_downloads_only_missing_files(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        result, again = interrupted_then_resumed(server, tmp_path / "landing")
    assert result.resumed and result.downloaded == 2 and len(again) == 2  # type: ignore[attr-defined]
    assert result.counts == LINES  # type: ignore[attr-defined]


def test_a_crash_while_polling_resumes_the_same_job(small_data: Path, tmp_path: Path) -> None:
    def crash_while_waiting(message: str) -> None:
        if message.startswith("export in progress"):
            raise Stop

    with BulkDataTestServer(ServerConfig(small_data, faults=Faults(pending_polls=2))) as server:
        request = ExportRequest(fhir_url=server.base_url)
        with pytest.raises(Stop):
            run_export(
                request, LocalLanding(tmp_path / "l"), policy=fast_policy(), progress=crash_while_waiting
            )
        result = run_export(
            request, LocalLanding(tmp_path / "l"), policy=fast_policy(), progress=lambda m: None
        )
        kickoffs = len(server.kickoffs)
    assert kickoffs == 1 and result.resumed and result.counts == LINES


def test_an_expired_export_is_started_over(small_data: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        request = ExportRequest(fhir_url=server.base_url, types=tuple(LINES))
        with pytest.raises(KeyboardInterrupt):
            run_export(request, LocalLanding(landing), policy=fast_policy(), progress=_interrupt_after(1))
        (stale,) = [p.name for p in landing.iterdir() if p.name != "_state"]
        server.expire_jobs()
        messages: list[str] = []
        result = run_export(request, LocalLanding(landing), policy=fast_policy(), progress=messages.append)
        assert len(server.kickoffs) == 2
    assert any("export has expired" in m and "starting the export over" in m for m in messages)
    assert not result.resumed and result.counts == LINES and result.downloaded == 3
    assert not (landing / stale).exists(), "the expired partial folder is gone"
    assert [p.name for p in landing.iterdir() if p.name != "_state"] == [result.export_id]


def test_ctrl_c_while_polling_cancels_and_leaves_nothing(small_data: Path, tmp_path: Path) -> None:
    from anonymizer.export.client import PollPolicy

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    with BulkDataTestServer(ServerConfig(small_data, faults=Faults(pending_polls=5))) as server:
        with pytest.raises(KeyboardInterrupt):
            run_export(
                ExportRequest(fhir_url=server.base_url),
                LocalLanding(tmp_path / "l"),
                policy=PollPolicy(sleep=interrupt),
                progress=lambda m: None,
            )
        assert any(m == "DELETE" for m, _ in server.requests)
    assert not list((tmp_path / "l").glob("_state/in_flight/*"))
    assert [p.name for p in (tmp_path / "l").iterdir()] == ["_state"], "no export folder is left"


@pytest.mark.spark
def test_deidentify_reads_each_resource_once_after_a_resumed_export(
    spark: object, small_data: Path, tmp_path: Path
) -> None:
    import shutil

    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify

    landing = tmp_path / "landing"
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        request = ExportRequest(fhir_url=server.base_url, types=tuple(LINES))
        with pytest.raises(KeyboardInterrupt):
            run_export(request, LocalLanding(landing), policy=fast_policy(), progress=_interrupt_after(1))
        (partial,) = [p for p in landing.iterdir() if p.name != "_state"]
        # An interrupted export nobody finished, next to the one the re-run completes.
        shutil.copytree(partial, landing / "an-abandoned-export")
        run_export(request, LocalLanding(landing), policy=fast_policy(), progress=lambda m: None)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}],
                                  "parameters": {"cryptoHashKey": HASH_KEY}}))  # fmt: skip
    result = run_deidentify(
        DeidentifyRequest(input=str(landing), output=str(tmp_path / "research"), config=str(config)),
        spark,  # type: ignore[arg-type]
    )
    assert {t: c.lines_in for t, c in result.summary.counts.items()} == LINES, "each resource read once"
    assert result.skipped_inputs == ("an-abandoned-export",)
    quarantine = Path(result.summary.quarantine)
    assert not (quarantine / "_staging").exists(), "no empty quarantine/_staging is left"

    from anonymizer.verify.pipeline import VerifyRequest, run_verify

    # verify compares the same completed exports: the abandoned copy must not count as missing lines
    verified = run_verify(
        VerifyRequest(
            source=str(landing),
            output=str(tmp_path / "research"),
            config=str(config),
            report_dir=str(tmp_path / "report"),
            quarantine=str(quarantine),
        ),
        spark,  # type: ignore[arg-type]
    )
    assert verified.counts_reconciled, verified.report["counts"]["problems"]

    with pytest.raises(Exception, match="an-abandoned-export is an incomplete export"):
        run_deidentify(
            DeidentifyRequest(
                input=str(landing / "an-abandoned-export"), output=str(tmp_path / "r2"), config=str(config)
            ),
            spark,  # type: ignore[arg-type]
        )
