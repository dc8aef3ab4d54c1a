"""Point 2 of issue 12: SMART Backend Services from the CLI against a token endpoint that requires ``kid``
(like the SMART reference server), RS384 and ES384, keys as PEM, JWK or JWKS; refusals show the server's reason
and no secret ever reaches the output, even with ``-v``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from anonymizer.testing.fhir_server import BulkDataTestServer, ServerConfig
from tests.export.conftest import LINES, run_cli


def _key(algorithm: str) -> tuple[object, bytes, str]:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS384"
        else ec.generate_private_key(ec.SECP384R1())
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, public, private


def _jwk(key: object, algorithm: str, kid: str) -> dict[str, object]:
    algo = jwt.algorithms.RSAAlgorithm if algorithm == "RS384" else jwt.algorithms.ECAlgorithm
    return {**json.loads(algo.to_jwk(key)), "kid": kid, "alg": algorithm}  # type: ignore[attr-defined]


def _export_args(server: BulkDataTestServer, landing: Path, key_file: Path, *extra: str) -> list[str]:
    return ["export", "--fhir-url", server.base_url, "--landing", str(landing), "--auth", "smart",
            "--client-id", "demo-client", "--private-key", f"file:{key_file}", "--token-url", server.token_url,
            *extra]  # fmt: skip


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_cli_smart_export_with_key_id(
    algorithm: str, small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, public, private = _key(algorithm)
    key_file = tmp_path / "key.pem"
    key_file.write_text(private)
    config = ServerConfig(small_data, require_token=True, client_keys={"key-1": public}, require_kid=True)
    with BulkDataTestServer(config) as server:
        assert run_cli(_export_args(server, tmp_path / "no-kid", key_file)) == 1
        refused = capsys.readouterr()
        assert "invalid_client: Invalid JWT token header. Missing 'kid' property" in refused.err
        assert "PermissionError" not in refused.err and "Traceback" not in refused.err
        assert run_cli(_export_args(server, tmp_path / "landing", key_file, "--key-id", "key-1")) == 0
    out = capsys.readouterr().out
    assert f"{sum(LINES.values())} resources in 3 files" in out


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_cli_smart_with_a_jwk_or_jwks_takes_its_kid(
    algorithm: str, small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, public, _ = _key(algorithm)
    other, other_public, _ = _key(algorithm)
    jwk_file, jwks_file = tmp_path / "key.jwk", tmp_path / "keys.jwks"
    jwk_file.write_text(json.dumps(_jwk(key, algorithm, "from-jwk")))
    jwks_file.write_text(
        json.dumps({"keys": [_jwk(other, algorithm, "a"), _jwk(key, algorithm, "from-jwk")]})
    )
    config = ServerConfig(
        small_data, require_token=True, client_keys={"from-jwk": public, "a": other_public}, require_kid=True
    )
    with BulkDataTestServer(config) as server:
        assert run_cli(_export_args(server, tmp_path / "l1", jwk_file)) == 0
        assert run_cli(_export_args(server, tmp_path / "l2", jwks_file)) == 1
        assert "several private keys matching --key-id" in capsys.readouterr().err
        assert run_cli(_export_args(server, tmp_path / "l2", jwks_file, "--key-id", "from-jwk")) == 0
        wrong = "RS384" if algorithm == "ES384" else "ES384"
        assert run_cli(_export_args(server, tmp_path / "l3", jwk_file, "--algorithm", wrong)) == 1
        assert f"the JWK is for {algorithm}, not" in capsys.readouterr().err


def test_jku_is_sent_when_asked_and_checked(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, public, private = _key("RS384")
    key_file = tmp_path / "key.pem"
    key_file.write_text(private)
    jwks_url = "https://client.example/.well-known/jwks.json"
    config = ServerConfig(
        small_data, require_token=True, client_keys={"k": public}, require_kid=True, allowed_jku=jwks_url
    )
    with BulkDataTestServer(config) as server:
        assert run_cli(_export_args(server, tmp_path / "l", key_file, "--key-id", "k", "--jku", "https://evil.example/j")) == 1  # fmt: skip
        assert "The jku header is not a registered JWKS URL" in capsys.readouterr().err
        assert (
            run_cli(_export_args(server, tmp_path / "l", key_file, "--key-id", "k", "--jku", jwks_url)) == 0
        )


def test_refusals_show_the_servers_reason_and_verbose_logs_no_secret(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _, public, private = _key("ES384")
    key_file = tmp_path / "key.pem"
    key_file.write_text(private)
    config = ServerConfig(small_data, require_token=True, client_keys={"k": public}, require_kid=True)
    with BulkDataTestServer(config) as server:
        no_auth = ["export", "--fhir-url", server.base_url, "--landing", str(tmp_path / "x")]
        assert run_cli(no_auth) == 1
        assert "kick-off refused (HTTP 401): missing or invalid bearer token" in capsys.readouterr().err
        with caplog.at_level(logging.DEBUG):
            argv = ["-v", *_export_args(server, tmp_path / "l", key_file, "--key-id", "k")]
            assert (
                run_cli([a for a in argv if a != "--token-url" and a != server.token_url]) == 0
            )  # discovered
        tokens = set(server.state.tokens)
    captured = capsys.readouterr()
    shown = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert "token request to" in shown, "-v adds detail"
    secret_key_lines = [line for line in private.splitlines() if "-----" not in line]
    for secret in [*tokens, *secret_key_lines, "eyJ"]:  # tokens, key material, any JWT (assertion)
        assert secret not in shown
