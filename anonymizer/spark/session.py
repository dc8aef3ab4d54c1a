"""Build or reuse a SparkSession with the settings the pipeline needs.

Library code calls :func:`active_or_new_session` and never sets the master: on a cluster, under
``spark-submit`` or on Databricks, the session that exists (or the one ``spark-submit`` configured) is used.
Only :func:`local_session`, which the CLI calls when no master is configured, picks ``local[*]`` and adds
the cached Delta JARs. :func:`remote_session` connects to a Spark Connect server (``--remote URL`` or
``SPARK_REMOTE``; ``local[...]`` starts one in this process with the Delta JARs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.spark.jars import ensure_delta_jars
from anonymizer.spark.settings import (
    LOCAL_DEFAULTS,
    LOCAL_JVM_OPTIONS,
    REQUIRED_CONF,
    local_read_conf,
    merged_conf,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare_local_environment() -> None:
    """Make Python workers use this interpreter and keep Spark on the loopback interface."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # spark-submit/spark-class live next to the interpreter in a venv.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def local_session(
    master: str = "local[*]",
    *,
    app_name: str = "fhir-anonymizer",
    conf: Mapping[str, str] | None = None,
    extra_layers: tuple[Mapping[str, str], ...] = (),
    verbose: bool = False,
) -> SparkSession:
    """Start (or reuse) a local session with Delta from the JAR cache.

    Args:
        master: Spark master URL, ``local[*]`` by default.
        app_name: application name shown in logs.
        conf: user overrides (``--conf k=v``); they win over every default.
        extra_layers: further defaults applied after the local defaults (e.g. the test settings).
        verbose: keep Spark's default JVM logging instead of warnings-only.
    """
    from pyspark.sql import SparkSession

    prepare_local_environment()
    jars = ensure_delta_jars(quiet=False)
    settings = merged_conf(
        REQUIRED_CONF,
        LOCAL_DEFAULTS,
        local_read_conf(master),
        *map(dict, extra_layers),
        overrides=dict(conf or {}),
    )
    builder = SparkSession.builder.master(master).appName(app_name)
    builder = builder.config("spark.jars", ",".join(str(j) for j in jars))
    if "spark.driver.extraJavaOptions" not in settings:
        builder = builder.config("spark.driver.extraJavaOptions", local_jvm_options(verbose=verbose))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def local_jvm_options(*, verbose: bool) -> str:
    """``spark.driver.extraJavaOptions`` of a local JVM: :data:`LOCAL_JVM_OPTIONS`, and unless ``verbose`` the
    warnings-only log configuration writing to :func:`jvm_log_file` (also for a local Spark Connect server, whose
    JVM would otherwise create a file named after the unset property in the working folder)."""
    options = list(LOCAL_JVM_OPTIONS)
    if not verbose:
        log_conf = Path(__file__).with_name("quiet-log4j2.properties")
        options += [
            f"-Dlog4j2.configurationFile=file:{log_conf}",
            f"-Dfhir_anonymizer.logfile={jvm_log_file()}",
        ]
    return " ".join(options)


def jvm_log_file() -> str:
    """Where a quiet local session writes Spark's JVM log: the CLI run's log file, else one in the temp folder."""
    import tempfile

    return os.environ.get("FHIR_ANONYMIZER_LOG_FILE") or os.path.join(
        tempfile.gettempdir(), f"fhir-anonymizer-spark-{os.getpid()}.log"
    )


#: Environment variable PySpark reads for a Spark Connect URL (``sc://host:port``).
REMOTE_ENV = "SPARK_REMOTE"


def remote_session(
    url: str,
    *,
    app_name: str = "fhir-anonymizer",
    conf: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> SparkSession:
    """A Spark Connect session: ``sc://host:port`` (Databricks, a Connect server) or ``local[N]``.

    ``local[N]`` starts a Connect server inside this process (pyspark 4 ships it) with the cached Delta JARs and
    the local defaults. Against a remote server only runtime SQL settings can be set; the server must already
    have Delta (Databricks has it).
    """
    from pyspark.sql import SparkSession

    prepare_local_environment()
    builder = SparkSession.builder.remote(url).appName(app_name)
    if url.startswith("local"):
        settings = merged_conf(
            REQUIRED_CONF, LOCAL_DEFAULTS, local_read_conf(url), overrides=dict(conf or {})
        )
        settings["spark.jars"] = ",".join(str(j) for j in ensure_delta_jars(quiet=False))
        settings.setdefault("spark.connect.grpc.binding.address", "127.0.0.1")
        settings.setdefault("spark.driver.extraJavaOptions", local_jvm_options(verbose=verbose))
        for key, value in settings.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    spark = builder.getOrCreate()
    _set_runtime_conf(spark, {**REQUIRED_CONF, **dict(conf or {})})
    return spark


def _set_runtime_conf(spark: SparkSession, settings: Mapping[str, str]) -> None:
    for key, value in settings.items():
        if key.startswith("spark.sql.") and key not in (
            "spark.sql.extensions",
            "spark.sql.catalog.spark_catalog",
        ):
            spark.conf.set(key, value)


def active_or_new_session(conf: Mapping[str, str] | None = None) -> SparkSession:
    """The active session (cluster, Databricks, spark-submit), with the required settings applied.

    Runtime-settable options (time zone, Arrow) are set on the existing session; static ones (the Delta
    extension) must already be there, which :func:`check_delta_available` verifies.
    """
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    _set_runtime_conf(spark, {**REQUIRED_CONF, **dict(conf or {})})
    return spark


def has_configured_master() -> bool:
    """True when a master comes from spark-submit or the environment (so the CLI must not pick one)."""
    if os.environ.get("SPARK_MASTER") or os.environ.get("MASTER"):
        return True
    # spark-submit passes its settings to the Python driver through this variable.
    return "spark.master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "") or _launched_by_spark_submit()


def _launched_by_spark_submit() -> bool:
    return bool(os.environ.get("SPARK_ENV_LOADED") and os.environ.get("PYSPARK_GATEWAY_PORT"))


def cli_session(
    master: str | None,
    conf: Mapping[str, str] | None = None,
    app_name: str = "fhir-anonymizer",
    *,
    verbose: bool = False,
    remote: str | None = None,
    local_defaults: Mapping[str, str] | None = None,
) -> SparkSession:
    """Session for the CLI: Spark Connect (``remote`` or ``SPARK_REMOTE``), the given master, the
    spark-submit/Databricks one, or ``local[*]``.

    ``local_defaults`` are further defaults of a local session this call starts (``conf`` wins over them); a
    remote, configured or already running session is used as it is.
    """
    remote = remote or (os.environ.get(REMOTE_ENV) if master is None else None)
    if remote:
        return remote_session(remote, app_name=app_name, conf=conf, verbose=verbose)
    if master is None and (has_configured_master() or _active_exists()):
        return active_or_new_session(conf)
    return local_session(
        master or "local[*]",
        app_name=app_name,
        conf=conf,
        extra_layers=(dict(local_defaults),) if local_defaults else (),
        verbose=verbose,
    )


def _active_exists() -> bool:
    if "pyspark" not in sys.modules:
        return False
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() is not None
