"""Blob/ADLS landing against a real Azurite started by the test on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anonymizer.export.client import ExportRequest, PollPolicy
from anonymizer.export.runner import run_export
from anonymizer.testing.fhir_server import BulkDataTestServer, Faults, ServerConfig

pytestmark = pytest.mark.azurite
REPO = Path(__file__).parents[2]
AZURITE = REPO / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not AZURITE.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not available, so Azurite cannot be installed (scripts/install-azurite.sh)")
        subprocess.run([str(REPO / "scripts" / "install-azurite.sh")], check=True)
    port = _free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(workdir),
            "--skipApiVersionCheck",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("Azurite did not start")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    proc.terminate()
    proc.wait(timeout=10)


def test_export_lands_in_blob_storage_idempotently(azurite: str, tmp_path: Path) -> None:
    from anonymizer.storage.landing import BlobLanding

    data = tmp_path / "data"
    data.mkdir()
    sample = REPO / "examples" / "synthea-10-patients"
    for name in ("Patient.000.ndjson", "Device.000.ndjson"):
        (data / name).write_bytes((sample / name).read_bytes())
    landing = BlobLanding.from_connection_string(azurite, "landing", "fhir")
    policy = PollPolicy(initial_delay_s=0.001, sleep=lambda s: None)
    with BulkDataTestServer(ServerConfig(data, faults=Faults(drop_download=1))) as server:
        result = run_export(
            ExportRequest(fhir_url=server.base_url, export_id="e1"),
            landing,
            policy=policy,
            progress=lambda m: None,
        )
        downloads = sum(1 for _, p in server.requests if p.startswith("/files/"))
        run_export(
            ExportRequest(fhir_url=server.base_url, export_id="e1"),
            landing,
            policy=policy,
            progress=lambda m: None,
        )
        assert sum(1 for _, p in server.requests if p.startswith("/files/")) == downloads
    assert result.counts == {"Device": 16, "Patient": 13}
    assert landing.read_bytes("e1/Patient.000.ndjson") == (data / "Patient.000.ndjson").read_bytes()
    assert set(landing.list("e1/")) == {"e1/Device.000.ndjson", "e1/Patient.000.ndjson", "e1/manifest.json"}
    assert landing.exists("_state/last_export.json")
    assert (
        landing.uri("e1/Patient.000.ndjson")
        == "abfss://landing@devstoreaccount1.dfs.core.windows.net/fhir/e1/Patient.000.ndjson"
    )


def test_blob_landing_resumes_an_interrupted_export(azurite: str, tmp_path: Path) -> None:
    """Point 4 of issue 12 on Blob storage: files commit whole, the in-flight state lives in the container."""
    from anonymizer.storage.landing import BlobLanding

    data = tmp_path / "data"
    data.mkdir()
    sample = REPO / "examples" / "synthea-10-patients"
    for name in ("Patient.000.ndjson", "Device.000.ndjson", "AllergyIntolerance.000.ndjson"):
        (data / name).write_bytes((sample / name).read_bytes())
    landing = BlobLanding.from_connection_string(azurite, "landing", "resume")
    policy = PollPolicy(initial_delay_s=0.001, sleep=lambda s: None)

    def interrupt_after_first_file(message: str) -> None:
        if message.startswith("landed "):
            raise KeyboardInterrupt

    with BulkDataTestServer(ServerConfig(data)) as server:
        request = ExportRequest(fhir_url=server.base_url)
        with pytest.raises(KeyboardInterrupt):
            run_export(request, landing, policy=policy, progress=interrupt_after_first_file)
        landed = [n for n in landing.list("") if n.endswith(".ndjson") and not n.startswith("_state/")]
        assert len(landed) == 1 and not [n for n in landing.list("") if n.endswith("manifest.json")]
        before = sum(1 for _, p in server.requests if p.startswith("/files/"))
        result = run_export(request, landing, policy=policy, progress=lambda m: None)
        downloaded = sum(1 for _, p in server.requests if p.startswith("/files/")) - before
    assert result.resumed and downloaded == 2 == result.downloaded
    assert result.counts == {"AllergyIntolerance": 11, "Device": 16, "Patient": 13}
    assert landing.exists(f"{result.export_id}/manifest.json")
    assert not landing.list("_state/in_flight/")
