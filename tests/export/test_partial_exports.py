"""Points 3 (error files), 6 (allowPartialManifests), 7 (no empty export folder) and 8 (``--since auto`` per
server, level, group and types) of issue 12, against the built-in server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anonymizer.export.client import ExportRequest
from anonymizer.export.errors import ExportError
from anonymizer.export.runner import run_export
from anonymizer.storage.landing import LocalLanding
from anonymizer.testing.fhir_server import BulkDataTestServer, Faults, ServerConfig
from tests.export.conftest import LINES, fast_policy, run_cli


def _export(server: BulkDataTestServer, landing: Path, **kw: object):
    return run_export(
        ExportRequest(fhir_url=server.base_url, **kw),  # type: ignore[arg-type]
        LocalLanding(landing),
        policy=fast_policy(),
        progress=lambda m: None,
    )


def test_error_files_land_under_error_and_their_count_is_not_enforced(
    small_data: Path, tmp_path: Path
) -> None:
    faults = Faults(failing_types={"Device": "File generation failed"})
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        result = _export(server, tmp_path / "landing", types=("Patient", "Device"), export_id="e1")
    folder = tmp_path / "landing" / "e1"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["error"][0]["count"] == LINES["Device"], "the server's count: failed resources, not lines"
    assert len((folder / "error" / "OperationOutcome.000.ndjson").read_text().splitlines()) == 1
    assert result.counts == {"Patient": LINES["Patient"]}
    assert result.failed_types == ["Device"]
    assert result.errors == ["Device: File generation failed"]
    last = json.loads((tmp_path / "landing" / "_state" / "last_export.json").read_text())
    assert last["complete"] is False and last["failed_types"] == ["Device"]


def test_cli_exits_non_zero_on_error_files_unless_allow_partial(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = Faults(failing_types={"Device": "File generation failed"})
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        argv = ["export", "--fhir-url", server.base_url, "--type", "Patient,Device"]
        assert run_cli([*argv, "--landing", str(tmp_path / "strict")]) == 1
        err = capsys.readouterr().err
        assert "types without output: Device" in err and "Device: File generation failed" in err
        assert "--allow-partial" in err
        assert run_cli([*argv, "--landing", str(tmp_path / "lenient"), "--allow-partial"]) == 0
        assert "partial export:" in capsys.readouterr().err
    for landing in ("strict", "lenient"):
        assert len(list((tmp_path / landing).glob("*/manifest.json"))) == 1, "manifest written in every case"
        assert (tmp_path / landing / "_state" / "last_export.json").is_file()
        assert not list((tmp_path / landing / "_state").glob("in_flight/*")), "nothing left to resume"


def test_since_auto_ignores_a_partial_export(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        complete = _export(server, tmp_path / "landing", types=("Patient",))
        server.state.config.faults.failing_types = {"Patient": "File generation failed"}
        _export(server, tmp_path / "landing", types=("Patient",))
        _export(server, tmp_path / "landing", types=("Patient",), since="auto")
        assert server.kickoffs[-1]["_since"] == [complete.transaction_time]


def test_cli_allow_partial_manifests_pages_are_merged(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with BulkDataTestServer(ServerConfig(small_data, partial_manifest_size=1)) as server:
        argv = ["export", "--fhir-url", server.base_url, "--landing", str(tmp_path / "l")]
        assert run_cli([*argv, "--allow-partial-manifests"]) == 0
        assert server.kickoffs[-1]["allowPartialManifests"] == ["true"]
        pages = [p for m, p in server.requests if p.startswith("/jobs/")]
        assert run_cli([*argv, "--post", "--allow-partial-manifests"]) == 0
        assert server.kickoffs[-1]["allowPartialManifests"] == ["true"]
        assert run_cli(["export", "--fhir-url", server.base_url, "--landing", str(tmp_path / "x"), "--azure",
                     "--allow-partial-manifests"]) == 2  # fmt: skip
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "l").glob("*/manifest.json")]
    assert len(manifests) == 2
    assert all(len(m["output"]) == 3 and "link" not in m for m in manifests)
    assert len(pages) >= 3, "the manifest came in three pages"
    assert "Azure FHIR service does not accept allowPartialManifests" in capsys.readouterr().err


def test_a_failed_export_leaves_no_empty_folder(small_data: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    with (
        BulkDataTestServer(ServerConfig(small_data, faults=Faults(fail_job=True))) as server,
        pytest.raises(ExportError, match="export job failed"),
    ):
        _export(server, landing, export_id="failed")
    polls = [p for m, p in server.requests if m == "GET" and p.startswith("/jobs/")]
    assert len(polls) == 2, "one 202, then the 500 whose OperationOutcome is not transient: no retries"
    assert not (landing / "failed").exists()
    assert not list((landing / "_state").glob("in_flight/*")), "a failed job cannot be resumed"

    original = small_data / "Device.000.ndjson"
    original.write_bytes(b'{"resourceType":"Device","id":"x"}\n')
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        # The file grows between the manifest and the download: the count check fails on the first file.
        from anonymizer.export import client as client_module

        real = client_module.BulkExportClient.download

        def grow_then_download(self, url, requires_token):  # type: ignore[no-untyped-def]
            original.write_bytes(b'{"resourceType":"Device","id":"x"}\n' * 2)
            return real(self, url, requires_token)

        client_module.BulkExportClient.download = grow_then_download  # type: ignore[method-assign]
        try:
            with pytest.raises(ExportError, match="manifest says 1"):
                _export(server, landing, types=("Device",), export_id="mismatch")
        finally:
            client_module.BulkExportClient.download = real  # type: ignore[method-assign]
    assert not (landing / "mismatch").exists(), "no empty export folder"


def test_since_auto_follows_the_same_level_group_and_types(small_data: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        patients = _export(server, landing, types=("Patient",))
        _export(server, landing, types=("Device",))
        _export(server, landing, types=("Patient",), since="auto")
        assert server.kickoffs[-1]["_since"] == [patients.transaction_time]
        _export(server, landing, level="group", group_id="g1", types=("Patient",), since="auto")
        assert "_since" not in server.kickoffs[-1], "no earlier export of that group"
        _export(server, landing, types=("Device", "Patient"), since="auto")
        assert "_since" not in server.kickoffs[-1], "a different set of types"
