# Databricks notebook source
# MAGIC %md
# MAGIC # Explore the research zone
# MAGIC The de-identified Delta tables, the analyst-ready views (SQL on FHIR ViewDefinitions, `research/views/`),
# MAGIC example SQL joins across resource types, the run history and the verification report. Point the `zone` widget at a research zone (e.g. `/Volumes/<catalog>/<schema>/research`)
# MAGIC and `report` at its report folder. Left empty, the notebook first builds a zone from the synthetic sample
# MAGIC (de-identify + verify, throw-away keys) in a temporary folder, which is what the local test run does.

# COMMAND ----------

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path


def _find_repo() -> Path:
    """The bundle/repo root: the first parent holding configs/ (cwd on Databricks, this file locally)."""
    here = Path(globals().get("__file__", os.getcwd())).resolve()
    for folder in (here, *here.parents):
        if (folder / "configs").is_dir():
            return folder
    return Path.cwd()


def widget(name: str, default: str) -> str:
    """Databricks text widget; outside Databricks the env var NB_<NAME> or the default."""
    dbu = globals().get("dbutils")
    if dbu is not None:
        dbu.widgets.text(name, default)
        return str(dbu.widgets.get(name))
    return os.environ.get(f"NB_{name.upper()}", default)


def show(frame: object) -> None:
    """``display`` on Databricks, a text table elsewhere."""
    shown = globals().get("display")
    if shown is not None:
        shown(frame)
    else:
        frame.show(20, truncate=60)  # type: ignore[attr-defined]


REPO = _find_repo()
ZONE = widget("zone", "")
REPORT = widget("report", "")
CONFIG = widget("config", str(REPO / "configs" / "hipaa-safe-harbor.json"))

# COMMAND ----------

from anonymizer.spark.session import cli_session  # noqa: E402

# Databricks provides `spark`; locally cli_session starts local[1] with Delta and this interpreter for workers.
spark = globals().get("spark") or cli_session(
    None if "DATABRICKS_RUNTIME_VERSION" in os.environ else "local[1]"
)

if not ZONE:
    from anonymizer.pipeline import PipelineRequest, run

    work = Path(tempfile.mkdtemp(prefix="research-zone-"))
    sample = work / "landing"  # a few types of the synthetic sample keep the local run short
    sample.mkdir()
    for name in ("Patient", "Encounter", "Condition"):
        for source in (REPO / "examples" / "synthea-10-patients").glob(f"{name}.*ndjson"):
            shutil.copy(source, sample)
    # The library's whole chain, as `fhir-anonymizer run`: de-identify -> verify -> the starter views of these types
    # (on Databricks the job's tasks do this).
    ran = run(
        PipelineRequest(
            output=str(work),
            config=CONFIG,
            landing=str(sample),
            as_of=date(2026, 1, 1),
            allow_ephemeral_keys=True,
            views=tuple(str(REPO / "views" / f"{v}.json") for v in ("patient", "encounter", "condition")),
        ),
        spark,
    )
    ZONE, REPORT = ran.deidentify.summary.output, str(Path(ran.verify.report_json).parent)
    print(f"run {ran.deidentify.summary.run_id}: verification {'passed' if ran.passed else 'did not pass'}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The tables
# MAGIC One Delta table per resource type: `id` (pseudonymized), `patient_key` (the pseudonymized patient, for joins),
# MAGIC `last_updated`, `run_id` and the de-identified `resource`: a JSON string (`json`, the default) or VARIANT
# MAGIC (`variant`), as each table's property `fhir_anonymizer.resource_format` records. The SQL below casts `resource`
# MAGIC to a string, which is the JSON text in both formats. `_runs` has one row per run.

# COMMAND ----------

from anonymizer.spark.zone import ResearchZone  # noqa: E402
from anonymizer.spark.zone_fs import exists  # noqa: E402

zone = ResearchZone(ZONE)
types = zone.resource_types(spark)  # through Spark: local folders, /Volumes, abfss://, Connect
for name in types:
    spark.read.format("delta").load(zone.table(name)).createOrReplaceTempView(name)
has_runs = exists(spark, zone.runs_table)
if has_runs:
    spark.read.format("delta").load(zone.runs_table).createOrReplaceTempView("runs")
counts = spark.createDataFrame(
    [(name, spark.table(name).count(), zone.resource_format(spark, name)) for name in types],
    "table string, rows long, resource_format string",
)
show(counts)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Example SQL
# MAGIC Encounters per patient gender, and the most frequent condition codes with the number of distinct patients.

# COMMAND ----------

show(
    spark.sql(
        """
        SELECT get_json_object(CAST(p.resource AS STRING), '$.gender') AS gender, count(*) AS encounters
        FROM Encounter e JOIN Patient p ON e.patient_key = p.patient_key
        GROUP BY 1 ORDER BY 2 DESC
        """
    )
)
if "Condition" in types:
    show(
        spark.sql(
            """
            SELECT get_json_object(CAST(resource AS STRING), '$.code.coding[0].code') AS code,
                   count(DISTINCT patient_key) AS patients
            FROM Condition GROUP BY 1 ORDER BY 2 DESC LIMIT 10
            """
        )
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Analyst-ready views
# MAGIC Flat tables defined by the ViewDefinitions in `views/` (SQL on FHIR v2), one row per resource (or per line item),
# MAGIC typed columns, and `patient_key` columns that join on the pseudonymized patient `id`. Registered as `v_<name>`.
# MAGIC Conditions per birth year and gender, with no JSON paths:

# COMMAND ----------

views_root = zone.views_root
view_names = sorted(p.name for p in Path(views_root).iterdir()) if Path(views_root).is_dir() else []
if not view_names and globals().get("dbutils") is not None:
    try:
        view_names = sorted(f.name.rstrip("/") for f in dbutils.fs.ls(views_root))  # type: ignore[name-defined]  # noqa: F821
    except Exception:  # no views folder: the job's views task has not run yet
        view_names = []
for name in view_names:
    spark.read.format("delta").load(f"{views_root}/{name}").createOrReplaceTempView(f"v_{name}")
print("views:", ", ".join(view_names) or "none (run `fhir-anonymizer views --research ...`)")
if {"patient", "condition"} <= set(view_names):
    show(
        spark.sql(
            """
            SELECT p.birth_year, p.gender, count(*) AS conditions, count(DISTINCT p.id) AS patients
            FROM v_condition c JOIN v_patient p ON c.patient_key = p.id
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        )
    )

# COMMAND ----------

# MAGIC %md
# MAGIC ## Run history and the verification report
# MAGIC The report contains counts, paths and verdicts only, never identifying values.

# COMMAND ----------

if has_runs:
    show(spark.table("runs").select("run_id", "as_of").limit(5))
if REPORT:
    report = json.loads(Path(REPORT, "report.json").read_text(encoding="utf-8"))
    print(json.dumps(report.get("verdict", {}), indent=2, default=str))
    print(f"full report: {Path(REPORT, 'report.html')}")
