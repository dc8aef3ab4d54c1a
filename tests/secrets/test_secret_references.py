"""Secret references resolved on the driver: Databricks scopes and Key Vault with fakes at their client boundary."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from anonymizer.config import load_config, resolve_keys
from anonymizer.errors import ConfigError
from anonymizer.secrets import databricks, keyvault, resolve_secret
from tests.strong_keys import DATE_KEY, HASH_KEY

#: Key values the fake stores return (strong enough for the key check; "secret" marks them in reprs).
DB_HASH_SECRET = "db-hash-secret-" + HASH_KEY
KV_DATE_SECRET = "kv-date-secret-" + DATE_KEY


class FakeSecrets:
    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values
        self.calls: list[tuple[str, str]] = []

    def get(self, scope: str, key: str) -> str:
        self.calls.append((scope, key))
        return self.values[(scope, key)]


@pytest.fixture()
def fake_dbutils() -> Any:
    secrets = FakeSecrets({("fhir-deid", "hash-key"): DB_HASH_SECRET})
    databricks.set_dbutils_factory(lambda: SimpleNamespace(secrets=secrets))
    yield secrets
    databricks.set_dbutils_factory(None)


@pytest.fixture()
def fake_vault() -> Any:
    calls: list[tuple[str, str, str | None]] = []

    class Client:
        def __init__(self, url: str) -> None:
            self.url = url

        def get_secret(self, name: str, version: str | None = None) -> Any:
            calls.append((self.url, name, version))
            if name == "missing":
                raise RuntimeError("SecretNotFound: value kv-date-secret leaked?")
            return SimpleNamespace(value=KV_DATE_SECRET)

    keyvault.set_client_factory(Client)
    yield calls
    keyvault.set_client_factory(None)


def test_dbsecret_reference(fake_dbutils: FakeSecrets) -> None:
    assert resolve_secret("dbsecret:fhir-deid/hash-key").value == DB_HASH_SECRET
    assert fake_dbutils.calls == [("fhir-deid", "hash-key")]
    with pytest.raises(ConfigError, match="dbsecret:<scope>/<key>"):
        resolve_secret("dbsecret:no-slash")


def test_keyvault_reference_and_errors_never_chain_values(fake_vault: list) -> None:
    url = "https://my-vault.vault.azure.net/secrets/date-key"
    assert resolve_secret(f"keyvault:{url}").value == KV_DATE_SECRET
    assert fake_vault == [("https://my-vault.vault.azure.net", "date-key", None)]
    with pytest.raises(ConfigError) as exc:
        resolve_secret("keyvault:https://my-vault.vault.azure.net/secrets/missing")
    assert (
        "kv-date-secret" not in str(exc.value)
        and exc.value.__cause__ is None
        and exc.value.__suppress_context__
    )
    with pytest.raises(ConfigError, match="keyvault:https://<vault>"):
        resolve_secret("keyvault:http://elsewhere/x")


def test_config_keys_from_both_backends(fake_dbutils: FakeSecrets, fake_vault: list) -> None:
    config = load_config(
        {
            "fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}],
            "parameters": {
                "cryptoHashKey": "dbsecret:fhir-deid/hash-key",
                "dateShiftKey": "keyvault:https://my-vault.vault.azure.net/secrets/date-key",
            },
        }
    )
    keys = resolve_keys(config)
    assert keys.crypto_hash_key.value == DB_HASH_SECRET
    assert keys.date_shift_key.value == KV_DATE_SECRET
    shown = repr(config.parameters) + repr(keys)
    assert DB_HASH_SECRET not in shown and KV_DATE_SECRET not in shown


def test_without_databricks_runtime_the_error_says_so() -> None:
    with pytest.raises(ConfigError, match="Databricks runtime"):
        resolve_secret("dbsecret:scope/key")


def test_env_and_file_references_for_real(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_DEID_TEST_KEY", "env-secret")
    (tmp_path / "key.txt").write_text("file-secret\n", encoding="utf-8")
    assert resolve_secret("env:FHIR_DEID_TEST_KEY").value == "env-secret"
    assert resolve_secret("file:key.txt", base_dir=tmp_path).value == "file-secret"
    assert repr(resolve_secret("env:FHIR_DEID_TEST_KEY")) == "Secret(****)"
    with pytest.raises(ConfigError) as exc:
        resolve_secret("file:absent.txt", base_dir=tmp_path)
    assert "file-secret" not in str(exc.value)


def test_keys_from_a_secret_scope_override_the_config(fake_dbutils: FakeSecrets) -> None:
    fake_dbutils.values[("fhir-deid", "crypto-hash-key")] = "scope-hash-key-" + HASH_KEY
    raw = {
        "fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}],
        "parameters": {"cryptoHashKey": "env:UNSET_FOR_TEST"},
    }
    config = load_config(raw, keys_from="dbsecret:fhir-deid")
    assert resolve_keys(config).crypto_hash_key.value == "scope-hash-key-" + HASH_KEY
    assert fake_dbutils.calls == [("fhir-deid", "crypto-hash-key")], "only the keys the rules need are read"
