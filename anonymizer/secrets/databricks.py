"""``dbsecret:scope/key`` references: Databricks secret scopes through ``dbutils.secrets`` (on the driver)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anonymizer.errors import ConfigError
from anonymizer.secrets import register_scheme

#: Tests (and unusual runtimes) may inject the dbutils object; by default it is looked up on the driver.
_dbutils_factory: Callable[[], Any] | None = None


def set_dbutils_factory(factory: Callable[[], Any] | None) -> None:
    """Use ``factory()`` as the ``dbutils`` object (``None`` restores the Databricks lookup)."""
    global _dbutils_factory
    _dbutils_factory = factory


def _dbutils() -> Any:
    if _dbutils_factory is not None:
        return _dbutils_factory()
    try:
        from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]  # Databricks runtime only
        from pyspark.sql import SparkSession

        return DBUtils(SparkSession.builder.getOrCreate())
    except ImportError:
        pass
    try:  # notebooks expose dbutils in the IPython namespace
        import IPython  # type: ignore[import-not-found]

        shell = IPython.get_ipython()
        if shell is not None and "dbutils" in shell.user_ns:
            return shell.user_ns["dbutils"]
    except ImportError:
        pass
    raise ConfigError("dbsecret: references need a Databricks runtime (dbutils is not available here)")


def resolve(rest: str) -> str:
    """``scope/key`` -> the secret value."""
    scope, sep, key = rest.partition("/")
    if not sep or not scope or not key:
        raise ConfigError(f"dbsecret:{rest}: expected dbsecret:<scope>/<key>")
    return str(_dbutils().secrets.get(scope=scope, key=key))


register_scheme("dbsecret", resolve)
