"""ADLS Gen2 (abfss://) Hadoop settings for the three authentication methods."""

from __future__ import annotations

import pytest

from anonymizer.storage.adls_config import AdlsAuth, adls_hadoop_conf

HOST = "lake.dfs.core.windows.net"


def test_service_principal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", "sp-secret-value")
    conf = adls_hadoop_conf(
        AdlsAuth("lake", "service_principal", tenant_id="t-1", client_id="c-1", secret="env:SP_SECRET")
    )
    assert conf[f"fs.azure.account.auth.type.{HOST}"] == "OAuth"
    assert conf[f"fs.azure.account.oauth.provider.type.{HOST}"].endswith("ClientCredsTokenProvider")
    assert conf[f"fs.azure.account.oauth2.client.secret.{HOST}"] == "sp-secret-value"
    assert (
        conf[f"fs.azure.account.oauth2.client.endpoint.{HOST}"]
        == "https://login.microsoftonline.com/t-1/oauth2/token"
    )


def test_managed_identity_needs_no_secret() -> None:
    conf = adls_hadoop_conf(AdlsAuth("lake", "managed_identity", client_id="uami-1"))
    assert conf[f"fs.azure.account.oauth.provider.type.{HOST}"].endswith("MsiTokenProvider")
    assert conf[f"fs.azure.account.oauth2.client.id.{HOST}"] == "uami-1"
    assert not any("secret" in k for k in conf)


def test_account_key_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "key"
    key_file.write_text("a2V5\n")
    conf = adls_hadoop_conf(AdlsAuth("lake", "account_key", secret=f"file:{key_file}"))
    assert conf == {f"fs.azure.account.auth.type.{HOST}": "SharedKey", f"fs.azure.account.key.{HOST}": "a2V5"}
    with pytest.raises(ValueError, match="needs"):
        adls_hadoop_conf(AdlsAuth("lake", "service_principal", client_id="x"))


@pytest.mark.spark
def test_apply_sets_the_session_hadoop_conf(spark) -> None:  # type: ignore[no-untyped-def]
    from anonymizer.storage.adls_config import apply_adls_config

    apply_adls_config(spark, AdlsAuth("lake", "managed_identity"))
    assert spark.sparkContext._jsc.hadoopConfiguration().get(f"fs.azure.account.auth.type.{HOST}") == "OAuth"
