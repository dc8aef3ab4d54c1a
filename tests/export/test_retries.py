"""Point 1 (a retry sends every header of the first attempt) and point 5 (Retry-After as a delay, an HTTP-date
or a Unix time) of issue 12, against the built-in server, which refuses and records a retry with fewer headers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from anonymizer.export.client import ExportRequest, PollPolicy, retry_after_seconds
from anonymizer.export.errors import ExportError
from anonymizer.export.runner import run_export
from anonymizer.storage.landing import LocalLanding
from anonymizer.testing.fhir_server import BulkDataTestServer, Faults, ServerConfig
from tests.export.conftest import LINES, fast_policy


def _export(server: BulkDataTestServer, landing: Path, policy: PollPolicy | None = None, **kw: object):
    messages: list[str] = []
    result = run_export(
        ExportRequest(fhir_url=server.base_url, **kw),  # type: ignore[arg-type]
        LocalLanding(landing),
        policy=policy or fast_policy(),
        progress=messages.append,
    )
    return result, messages


def test_the_server_refuses_a_retry_that_lost_a_header(small_data: Path) -> None:
    with BulkDataTestServer(ServerConfig(small_data)) as server:
        url = f"{server.base_url}/$export"
        first = requests.get(url, headers={"Prefer": "respond-async"}, timeout=10)
        again = requests.get(url, timeout=10)
        assert first.status_code == 202 and again.status_code == 400
        assert server.header_violations == ["GET /fhir/$export: missing ['Prefer'], changed []"]


@pytest.mark.parametrize("use_post", [False, True])
def test_kickoff_retried_after_5xx_and_a_dropped_connection_keeps_prefer(
    small_data: Path, tmp_path: Path, use_post: bool
) -> None:
    faults = Faults(kickoff_5xx=2, kickoff_drop=1)
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        result, messages = _export(server, tmp_path / "landing", use_post=use_post)
        kickoffs = [m for m, p in server.requests if p.endswith("$export")]
        assert server.header_violations == []
    assert len(kickoffs) == 4, "one dropped, two 503, then accepted"
    assert result.counts == LINES
    assert any("server answered 503" in m for m in messages)


def test_downloads_retried_after_5xx_and_drops_keep_accept_encoding(small_data: Path, tmp_path: Path) -> None:
    faults = Faults(download_5xx=2, drop_download=2)
    with BulkDataTestServer(ServerConfig(small_data, faults=faults, gzip_downloads=True)) as server:
        result, _ = _export(server, tmp_path / "landing")
        assert server.header_violations == []
    for name in LINES:
        landed = tmp_path / "landing" / result.export_id / f"{name}.000.ndjson"
        assert landed.read_bytes() == (small_data / f"{name}.000.ndjson").read_bytes()


def test_a_token_refresh_after_401_keeps_the_other_headers(small_data: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from anonymizer.export.auth import SmartBackendAuth

    key = ec.generate_private_key(ec.SECP384R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = ServerConfig(
        small_data,
        require_token=True,
        client_keys={"k1": public},
        require_kid=True,
        faults=Faults(token_401=1),
    )
    with BulkDataTestServer(config) as server:
        auth = SmartBackendAuth(server.token_url, "demo-client", private, key_id="k1")
        result = run_export(
            ExportRequest(fhir_url=server.base_url),
            LocalLanding(tmp_path / "l"),
            auth=auth,
            policy=fast_policy(),
        )
        tokens = [p for m, p in server.requests if p == "/auth/token"]
        assert server.header_violations == []
    assert len(tokens) == 2, "the revoked token was replaced"
    assert result.counts == LINES


def test_retry_after_values() -> None:
    now = 1_796_179_043.0
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("1796179103", now) == 60.0, "a Unix time, not 57 years"
    assert retry_after_seconds("1796179103000", now) == 60.0, "a Unix time in milliseconds"
    assert retry_after_seconds("1796179000", now) == 0.0, "a Unix time already past"
    assert retry_after_seconds("Wed, 02 Dec 2026 04:00:43 GMT", 1_796_184_013.0) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0
    for meaningless in (None, "", "soon", "-3", "nan"):
        assert retry_after_seconds(meaningless, now) is None


def test_an_epoch_retry_after_is_waited_for_and_never_polled_sooner(small_data: Path, tmp_path: Path) -> None:
    faults = Faults(status_429=2, pending_polls=1, retry_after="epoch:+1")
    policy = PollPolicy(initial_delay_s=0.01, max_delay_s=0.05)  # real sleeping: the server checks the timing
    with BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server:
        started = time.monotonic()
        result, messages = _export(server, tmp_path / "landing", policy=policy)
        elapsed = time.monotonic() - started
        assert server.early_polls == []
    waits = [float(m.split("retrying in ")[1].rstrip("s")) for m in messages if "retrying in" in m]
    assert len(waits) == 2 and all(0 <= w <= 1.0 for w in waits), messages
    assert elapsed < 6 and result.counts == LINES


def test_a_retry_after_beyond_the_limit_stops_with_a_clear_message(small_data: Path, tmp_path: Path) -> None:
    faults = Faults(status_429=1, retry_after="epoch:+36000")
    with (
        BulkDataTestServer(ServerConfig(small_data, faults=faults)) as server,
        pytest.raises(ExportError, match=r"retry in 3\d{4}s \(Retry-After\), more than 3600s"),
    ):
        _export(server, tmp_path / "landing")
