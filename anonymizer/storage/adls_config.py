"""Spark/Hadoop settings for ``abfss://`` (ADLS Gen2) with a service principal, a managed identity or an account key.

hadoop-azure reads credentials only from the Hadoop configuration, so for storage (unlike the anonymization keys)
the secret has to become a Spark setting. :func:`apply_adls_config` sets them on the running session's Hadoop
configuration at run time, so they are not part of any plan or of ``spark-submit`` arguments; secrets are given as
references (``env:``, ``file:``, ``dbsecret:``, ``keyvault:``) and resolved on the driver.
On Databricks prefer Unity Catalog external locations or volumes, which need none of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anonymizer.secrets import resolve_secret

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_PREFIX = "fs.azure.account"


@dataclass(frozen=True)
class AdlsAuth:
    """How to reach one storage account.

    Attributes:
        account: storage account name.
        method: ``service_principal`` (OAuth client credentials), ``managed_identity`` or ``account_key``.
        tenant_id / client_id: for a service principal (client_id also selects a user-assigned managed identity).
        secret: reference to the client secret (service principal) or the account key.
    """

    account: str
    method: str
    tenant_id: str | None = None
    client_id: str | None = None
    secret: str | None = None


def adls_hadoop_conf(auth: AdlsAuth) -> dict[str, str]:
    """The Hadoop settings (without the ``spark.hadoop.`` prefix) for ``abfss://...@<account>.dfs.core.windows.net``."""
    host = f"{auth.account}.dfs.core.windows.net"
    if auth.method == "account_key":
        if not auth.secret:
            raise ValueError("account_key auth needs the key (a reference such as dbsecret:scope/key)")
        return {
            f"{_PREFIX}.auth.type.{host}": "SharedKey",
            f"{_PREFIX}.key.{host}": resolve_secret(auth.secret).value,
        }
    conf = {f"{_PREFIX}.auth.type.{host}": "OAuth"}
    if auth.method == "service_principal":
        if not (auth.tenant_id and auth.client_id and auth.secret):
            raise ValueError("service_principal auth needs tenant_id, client_id and secret")
        conf.update(
            {
                f"{_PREFIX}.oauth.provider.type.{host}": "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider",
                f"{_PREFIX}.oauth2.client.id.{host}": auth.client_id,
                f"{_PREFIX}.oauth2.client.secret.{host}": resolve_secret(auth.secret).value,
                f"{_PREFIX}.oauth2.client.endpoint.{host}": f"https://login.microsoftonline.com/{auth.tenant_id}/oauth2/token",
            }
        )
    elif auth.method == "managed_identity":
        conf[f"{_PREFIX}.oauth.provider.type.{host}"] = (
            "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"
        )
        if auth.client_id:
            conf[f"{_PREFIX}.oauth2.client.id.{host}"] = auth.client_id
        if auth.tenant_id:
            conf[f"{_PREFIX}.oauth2.msi.tenant.{host}"] = auth.tenant_id
    else:
        raise ValueError(f"unknown ADLS auth method {auth.method!r}")
    return conf


def apply_adls_config(spark: SparkSession, auth: AdlsAuth) -> None:
    """Set the settings on the running session's Hadoop configuration (never logged)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in adls_hadoop_conf(auth).items():
        hadoop.set(key, value)
