"""Spark configuration for ``abfss://`` (ADLS Gen2) with a service principal, managed identity or account key.

hadoop-azure (the ABFS driver) reads its credentials **only** from the Hadoop configuration, i.e. Spark conf keys
``fs.azure.*`` (``spark.hadoop.fs.azure.*`` when given at submit time). That is why the storage credential (client
secret or account key) is the one secret this project puts into Spark conf: there is no other channel the driver
and executors' filesystem client accept. Consequences, documented in docs/platform.md:

- keys are scoped per storage account (``<key>.<account>.dfs.core.windows.net``) so one job never holds
  credentials for accounts it does not use;
- Spark's UI redacts conf values whose key matches ``spark.redaction.regex`` (default ``(?i)secret|password|token``);
  :data:`REDACTION_REGEX` extends it with ``account.key``: set it as ``spark.redaction.regex`` to redact account keys;
- de-identification keys are never written to Spark conf (they travel inside the pickled engine).

Secret values are given as references (``env:``, ``file:``, ``dbsecret:``, ``keyvault:``) and resolved here, once,
on the driver. On Databricks prefer Unity Catalog external locations, which need no conf at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from anonymizer.errors import ConfigError
from anonymizer.secrets import Secret, resolve_secret

__all__ = ["REDACTION_REGEX", "AdlsAuth", "adls_spark_conf", "apply_to_session", "auth_from_mapping"]

AuthMode = Literal["service_principal", "managed_identity", "account_key"]

#: Spark's default redaction pattern plus ``account.key`` and ``oauth2.client.secret``.
REDACTION_REGEX = r"(?i)secret|password|token|account\.key|oauth2\.client\.secret"

_PROVIDER_CLIENT_CREDS = "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider"
_PROVIDER_MSI = "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"


@dataclass(frozen=True)
class AdlsAuth:
    """How to authenticate to one storage account. Secret fields hold references or literals, never logged."""

    account: str
    mode: AuthMode
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None  # reference, e.g. dbsecret:fhir-deid/sp-secret
    account_key: str | None = None  # reference
    endpoint_suffix: str = "dfs.core.windows.net"

    def __repr__(self) -> str:  # the fields may be literal secrets: show only what is safe
        return f"AdlsAuth(account={self.account!r}, mode={self.mode!r})"


def _need(value: str | None, what: str, mode: str) -> str:
    if not value:
        raise ConfigError(f"ADLS {mode} authentication needs {what}")
    return value


def adls_spark_conf(auth: AdlsAuth, *, hadoop_prefix: bool = False) -> dict[str, str]:
    """The conf entries for ``abfss://<container>@<account>.<suffix>/``; secrets resolved on the driver.

    ``hadoop_prefix=True`` returns ``spark.hadoop.fs.azure...`` keys (for ``spark-submit --conf`` or a cluster's
    Spark config); the default ``fs.azure...`` keys are for ``spark.conf.set`` on a running session.
    """
    host = f"{auth.account}.{auth.endpoint_suffix}"
    conf: dict[str, str] = {}
    if auth.mode == "account_key":
        key: Secret = resolve_secret(_need(auth.account_key, "account_key", auth.mode))
        conf[f"fs.azure.account.key.{host}"] = key.value
    elif auth.mode == "service_principal":
        tenant = _need(auth.tenant_id, "tenant_id", auth.mode)
        secret = resolve_secret(_need(auth.client_secret, "client_secret", auth.mode))
        conf |= {
            f"fs.azure.account.auth.type.{host}": "OAuth",
            f"fs.azure.account.oauth.provider.type.{host}": _PROVIDER_CLIENT_CREDS,
            f"fs.azure.account.oauth2.client.id.{host}": _need(auth.client_id, "client_id", auth.mode),
            f"fs.azure.account.oauth2.client.secret.{host}": secret.value,
            f"fs.azure.account.oauth2.client.endpoint.{host}": f"https://login.microsoftonline.com/{tenant}/oauth2/token",
        }
    elif auth.mode == "managed_identity":
        conf |= {
            f"fs.azure.account.auth.type.{host}": "OAuth",
            f"fs.azure.account.oauth.provider.type.{host}": _PROVIDER_MSI,
            f"fs.azure.account.oauth2.msi.endpoint.{host}": "http://169.254.169.254/metadata/identity/oauth2/token",
        }
        if auth.tenant_id:
            conf[f"fs.azure.account.oauth2.msi.tenant.{host}"] = auth.tenant_id
        if auth.client_id:  # user-assigned identity
            conf[f"fs.azure.account.oauth2.client.id.{host}"] = auth.client_id
    else:
        raise ConfigError(
            f"unknown ADLS auth mode {auth.mode!r} (service_principal, managed_identity, account_key)"
        )
    if hadoop_prefix:
        conf = {f"spark.hadoop.{k}": v for k, v in conf.items()}
    return conf


def auth_from_mapping(values: Mapping[str, str]) -> AdlsAuth:
    """Build :class:`AdlsAuth` from a flat mapping (job parameters, a config section)."""
    try:
        return AdlsAuth(**{k: v for k, v in values.items() if v not in (None, "")})  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError(f"ADLS settings: {exc}") from None


def apply_to_session(spark: object, auth: AdlsAuth) -> list[str]:
    """Set the conf on a running session (driver side); returns the keys set, never the values."""
    conf = adls_spark_conf(auth)
    for key, value in conf.items():
        spark.conf.set(key, value)  # type: ignore[attr-defined]
    return sorted(conf)
