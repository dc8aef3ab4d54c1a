"""The export client against the real built-in test server on 127.0.0.1, one test per failure mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anonymizer.export.client import ExportRequest
from anonymizer.export.errors import ExportError
from anonymizer.export.runner import run_export
from anonymizer.storage.landing import LocalLanding
from anonymizer.testing.fhir_server import BulkDataTestServer, Faults, ServerConfig
from tests.export.conftest import fast_policy

FAST = fast_policy()


def _export(server: BulkDataTestServer, landing: Path, **kw: object):
    return run_export(
        ExportRequest(fhir_url=server.base_url, **kw),
        LocalLanding(landing),
        policy=FAST,
        progress=lambda m: None,
    )


def _landed_equals_source(result, landing: Path, data: Path) -> None:
    for name in ("Patient", "Device", "AllergyIntolerance"):
        assert (landing / result.export_id / f"{name}.000.ndjson").read_bytes() == (
            data / f"{name}.000.ndjson"
        ).read_bytes()


def test_full_export_with_retries_and_progress(small_data: Path, tmp_path: Path) -> None:
    faults = Faults(status_429=2, status_5xx=2, pending_polls=3, retry_after="date:+1")
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        result = _export(server, tmp_path / "landing")
    assert result.counts == {"AllergyIntolerance": 11, "Device": 16, "Patient": 13}
    _landed_equals_source(result, tmp_path / "landing", small_data)
    manifest = json.loads((tmp_path / "landing" / result.export_id / "manifest.json").read_text())
    assert manifest["transactionTime"] == result.transaction_time
    state = json.loads((tmp_path / "landing" / "_state" / "last_export.json").read_text())
    assert state["transactionTime"] == result.transaction_time


def test_dropped_connections_resume_with_range(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data, faults=Faults(drop_download=3))) as server:
        result = _export(server, tmp_path / "landing")
    _landed_equals_source(result, tmp_path / "landing", small_data)


def test_gzip_downloads_are_decoded(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data, gzip_downloads=True)) as server:
        result = _export(server, tmp_path / "landing")
    _landed_equals_source(result, tmp_path / "landing", small_data)


def test_rerun_does_not_download_twice(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        first = _export(server, tmp_path / "landing", export_id="exp1")
        downloads = sum(1 for m, p in server.requests if p.startswith("/files/"))
        _export(server, tmp_path / "landing", export_id="exp1")
        assert sum(1 for m, p in server.requests if p.startswith("/files/")) == downloads
    assert first.export_id == "exp1"


def test_failed_job_stops_with_the_servers_message(small_data: Path, tmp_path: Path) -> None:
    with (
        BulkDataTestServer(ServerConfig(small_data, faults=Faults(fail_job=True))) as server,
        pytest.raises(ExportError, match="export job failed.*export job failed"),
    ):
        _export(server, tmp_path / "landing")
    assert not (tmp_path / "landing").exists() or not any((tmp_path / "landing").rglob("*.ndjson"))


def test_azure_mode_rejects_unknown_parameters_and_client_sends_only_known_ones(
    small_data: Path, tmp_path: Path
) -> None:
    import requests

    with BulkDataTestServer(ServerConfig(small_data, mode="azure")) as server:
        refused = requests.get(f"{server.base_url}/$export", params={"_elements": "id"}, timeout=10)
        assert refused.status_code == 400 and "_elements" in refused.text
        with pytest.raises(ExportError, match="GET only"):
            _export(server, tmp_path / "landing", azure=True, use_post=True)
        result = _export(
            server, tmp_path / "landing", azure=True, types=("Patient",), since="2020-01-01T00:00:00Z"
        )
    assert result.counts == {"Patient": 13}


def test_manifest_count_mismatch_lands_nothing(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        (small_data / "Device.000.ndjson").write_bytes(b'{"resourceType":"Device","id":"x"}\n')
        server.state.config.data_dir = small_data  # manifest counts 1, then the file grows before download
        original = BulkDataTestServer  # noqa: F841
        from anonymizer.export import client as client_module

        real = client_module.BulkExportClient.download

        def grow_then_download(self, url, requires_token):  # type: ignore[no-untyped-def]
            if "Device" in url:
                (small_data / "Device.000.ndjson").write_bytes(b'{"resourceType":"Device","id":"x"}\n' * 2)
            return real(self, url, requires_token)

        client_module.BulkExportClient.download = grow_then_download  # type: ignore[method-assign]
        try:
            with pytest.raises(ExportError, match="manifest says 1"):
                _export(server, tmp_path / "landing", types=("Device",))
        finally:
            client_module.BulkExportClient.download = real  # type: ignore[method-assign]
    assert not list((tmp_path / "landing").rglob("Device*.ndjson")), (
        "no half-landed file under the final name"
    )


def test_since_auto_uses_the_last_transaction_time(small_data: Path, tmp_path: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data, mode="azure")) as server:
        _export(server, tmp_path / "landing", azure=True)
        _export(server, tmp_path / "landing", azure=True, since="auto")
        kickoffs = [p for m, p in server.requests if p.endswith("$export")]
    assert len(kickoffs) == 2


def test_smart_backend_services_assertion(small_data: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from anonymizer.export.auth import SmartBackendAuth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = ServerConfig(
        small_data, require_token=True, jwks_public_key_pem=public_pem, client_id="demo-client"
    )
    with BulkDataTestServer(config) as server:
        with pytest.raises(ExportError, match="401"):
            _export(server, tmp_path / "no-auth")
        auth = SmartBackendAuth(server.token_url, "demo-client", private_pem)
        result = run_export(
            ExportRequest(fhir_url=server.base_url),
            LocalLanding(tmp_path / "l"),
            auth=auth,
            policy=FAST,
            progress=lambda m: None,
        )
        assert "demo-client" in repr(auth) and "BEGIN" not in repr(auth)
    assert result.counts["Patient"] == 13


def test_paged_manifest_and_slow_server(small_data: Path, tmp_path: Path) -> None:
    config = ServerConfig(small_data, page_size=1, faults=Faults(slow_s=0.05))
    with BulkDataTestServer(config) as server:
        result = _export(server, tmp_path / "landing")
    assert result.counts == {"AllergyIntolerance": 11, "Device": 16, "Patient": 13}
    manifest = json.loads((tmp_path / "landing" / result.export_id / "manifest.json").read_text())
    assert len(manifest["output"]) == 3 and "link" not in manifest


def test_azure_container_mode_records_the_manifest_without_downloading(
    small_data: Path, tmp_path: Path
) -> None:
    with BulkDataTestServer(ServerConfig(small_data, mode="azure")) as server:
        result = _export(server, tmp_path / "landing", azure=True, container="fhir-landing", export_id="az1")
        assert not any(p.startswith("/files/") for _, p in server.requests), (
            "the service wrote the files itself"
        )
        kickoff = next(p for m, p in server.requests if p.endswith("$export"))
    assert kickoff
    assert result.files == [] and (tmp_path / "landing" / "az1" / "manifest.json").is_file()
    assert (
        json.loads((tmp_path / "landing" / "_state" / "last_export.json").read_text())["export_id"] == "az1"
    )
