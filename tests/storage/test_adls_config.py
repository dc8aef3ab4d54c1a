"""ADLS Spark conf: the three auth modes, references resolved on the driver, nothing secret in reprs."""

from __future__ import annotations

import re

import pytest

from anonymizer.errors import ConfigError
from anonymizer.storage.adls_config import REDACTION_REGEX, AdlsAuth, adls_spark_conf, auth_from_mapping

HOST = "lake1.dfs.core.windows.net"


def test_service_principal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", "sp-value")
    auth = AdlsAuth(
        "lake1", "service_principal", tenant_id="t-1", client_id="c-1", client_secret="env:SP_SECRET"
    )
    conf = adls_spark_conf(auth)
    assert conf[f"fs.azure.account.auth.type.{HOST}"] == "OAuth"
    assert conf[f"fs.azure.account.oauth2.client.secret.{HOST}"] == "sp-value"
    assert conf[f"fs.azure.account.oauth2.client.endpoint.{HOST}"].endswith("/t-1/oauth2/token")
    assert "sp-value" not in repr(auth) and "SP_SECRET" not in repr(auth)
    prefixed = adls_spark_conf(auth, hadoop_prefix=True)
    assert all(k.startswith("spark.hadoop.fs.azure.") for k in prefixed)


def test_managed_identity_has_no_secret() -> None:
    conf = adls_spark_conf(AdlsAuth("lake1", "managed_identity", client_id="uami-1"))
    assert conf[f"fs.azure.account.oauth.provider.type.{HOST}"].endswith("MsiTokenProvider")
    assert conf[f"fs.azure.account.oauth2.client.id.{HOST}"] == "uami-1"
    assert not any("secret" in k or "account.key" in k for k in conf)


def test_account_key_and_redaction(tmp_path) -> None:
    (tmp_path / "k").write_text("acct-key==\n")
    conf = adls_spark_conf(AdlsAuth("lake1", "account_key", account_key=f"file:{tmp_path / 'k'}"))
    assert conf == {f"fs.azure.account.key.{HOST}": "acct-key=="}
    secret_keys = [k for k in conf] + [f"fs.azure.account.oauth2.client.secret.{HOST}"]
    assert all(re.search(REDACTION_REGEX, k) for k in secret_keys)


def test_missing_fields_and_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="client_secret"):
        adls_spark_conf(AdlsAuth("lake1", "service_principal", tenant_id="t", client_id="c"))
    with pytest.raises(ConfigError, match="unknown ADLS auth mode"):
        adls_spark_conf(AdlsAuth("lake1", "sas"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ADLS settings"):
        auth_from_mapping({"account": "a", "mode": "account_key", "bogus": "x"})
    assert auth_from_mapping({"account": "a", "mode": "managed_identity", "client_id": ""}).client_id is None
