"""Spark settings, Delta JAR resolution errors, and the session fixture writing a real Delta table."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.spark import jars
from anonymizer.spark.settings import REQUIRED_CONF, delta_maven_coordinates, merged_conf


def test_required_settings_cover_delta_utc_and_arrow() -> None:
    assert REQUIRED_CONF["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert REQUIRED_CONF["spark.sql.session.timeZone"] == "UTC"
    assert REQUIRED_CONF["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert "spark.master" not in REQUIRED_CONF


def test_overrides_win() -> None:
    assert merged_conf({"a": "1"}, {"a": "2", "b": "1"}, overrides={"b": "9"}) == {"a": "2", "b": "9"}


def test_delta_coordinates_match_installed_versions() -> None:
    from importlib import metadata

    coords = delta_maven_coordinates()
    assert coords.startswith("io.delta:delta-spark_4.2_2.13:")
    assert coords.endswith(metadata.version("delta-spark"))


def test_empty_jar_folder_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jars.JARS_DIR_ENV, str(tmp_path))
    with pytest.raises(jars.JarResolutionError, match="contains no .jar files"):
        jars.ensure_delta_jars()


def test_unreachable_repository_message_says_what_to_do() -> None:
    message = jars._unreachable_message("io.delta:x:1", "unresolved dependency")
    assert "Maven Central" in message and jars.JARS_DIR_ENV in message and "Traceback" not in message


@pytest.mark.spark
def test_session_writes_and_reads_delta_with_variant(spark, tmp_path: Path) -> None:
    from chispa import assert_df_equality

    path = str(tmp_path / "t")
    df = spark.sql('select 1 as id, parse_json(\'{"gender":"female"}\') as resource')
    df.write.format("delta").save(path)
    back = spark.read.format("delta").load(path).selectExpr("id", "resource:gender::string as gender")
    expected = spark.createDataFrame([(1, "female")], "id int, gender string")
    assert_df_equality(
        back, expected, ignore_nullable=True, ignore_row_order=False, ignore_column_order=False
    )
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
