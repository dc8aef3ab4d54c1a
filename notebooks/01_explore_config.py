# Databricks notebook source
# MAGIC %md
# MAGIC # Explore a rules config on a sample
# MAGIC Pick resources from a (synthetic) sample, de-identify them with a rules file, and look at the result
# MAGIC side by side with the input, then at how often each rule fired. Nothing is written anywhere.
# MAGIC
# MAGIC Runs on Databricks (widgets at the top) and locally as a plain script (`python notebooks/01_explore_config.py`,
# MAGIC settings through `NB_<WIDGET>` environment variables). Use synthetic data only: this shows resource values.

# COMMAND ----------

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any


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


def show(value: Any) -> None:
    """``display`` on Databricks, ``print`` elsewhere."""
    shown = globals().get("display")
    if shown is not None:
        shown(value)
    else:
        print(value.to_string() if hasattr(value, "to_string") else value)


REPO = _find_repo()
SAMPLE = Path(widget("sample", str(REPO / "examples" / "synthea-10-patients")))
CONFIG = Path(widget("config", str(REPO / "configs" / "hipaa-safe-harbor.json")))
TYPES = [t.strip() for t in widget("types", "Patient,Encounter,Observation").split(",") if t.strip()]
PER_TYPE = int(widget("per_type", "2"))
AS_OF = date.fromisoformat(widget("as_of", "2026-01-01"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Load the config and a few resources
# MAGIC Keys come from the config's references (`env:`, `file:`, `dbsecret:`, `keyvault:`). When a key is missing,
# MAGIC throw-away random keys are used so exploring needs no secrets (pseudonyms then change on every run).

# COMMAND ----------

from anonymizer.config.lint import check_before_run  # noqa: E402
from anonymizer.engine import Anonymizer  # noqa: E402
from anonymizer.errors import ConfigError  # noqa: E402

# The same check as at the start of every deidentify and verify: a rule that can never match stops here.
for finding in check_before_run(CONFIG, what="notebook").warnings:
    print(finding)
try:
    engine = Anonymizer.from_config_file(CONFIG, as_of=AS_OF)
except ConfigError:
    engine = Anonymizer.from_config_file(CONFIG, as_of=AS_OF, allow_ephemeral_keys=True)


def sample_resources(resource_type: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` resources of a type from the sample's NDJSON files."""
    found: list[dict[str, Any]] = []
    for path in sorted(SAMPLE.glob(f"{resource_type}*.ndjson")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip() and len(found) < limit:
                    found.append(json.loads(line))
    return found


picked = {t: sample_resources(t, PER_TYPE) for t in TYPES}
print({t: len(r) for t, r in picked.items()})

# COMMAND ----------

# MAGIC %md
# MAGIC ## Before and after, side by side
# MAGIC One row per leaf element: its path, the input value and the de-identified value (blank when removed).

# COMMAND ----------

import pandas as pd  # noqa: E402


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a resource into ``path -> leaf value``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out |= leaves(child, f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(value, list):
        out = {}
        for i, child in enumerate(value):
            out |= leaves(child, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def side_by_side(resource: dict[str, Any]) -> pd.DataFrame:
    """Input and output leaves of one resource, changed rows first."""
    before = leaves(resource)
    after = leaves(engine.anonymize(json.loads(json.dumps(resource))))
    rows = [
        {
            "path": p,
            "before": before.get(p, ""),
            "after": after.get(p, ""),
            "changed": before.get(p) != after.get(p),
        }
        for p in sorted(before.keys() | after.keys())
    ]
    return pd.DataFrame(rows).sort_values(["changed", "path"], ascending=[False, True], ignore_index=True)


comparisons = {}
for resource_type, resources in picked.items():
    for resource in resources:
        frame = side_by_side(resource)
        comparisons[(resource_type, resource.get("id"))] = frame
        print(f"--- {resource_type}: {int(frame['changed'].sum())} of {len(frame)} leaves changed")
        show(frame.head(25))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Rule hits
# MAGIC How many elements each rule changed over the resources above (rules that never fire may be dead config).

# COMMAND ----------

hits: dict[int, int] = {}
for (rule_index, _), count in engine.rule_hits.items():
    hits[rule_index] = hits.get(rule_index, 0) + count
rule_table = pd.DataFrame(
    [
        {"rule": r.index + 1, "path": r.path or r.json_path, "method": r.method, "hits": hits.get(r.index, 0)}
        for r in engine.config.rules
    ]
)
show(rule_table[rule_table["hits"] > 0].sort_values("hits", ascending=False, ignore_index=True))
print(f"rules that fired: {int((rule_table['hits'] > 0).sum())} of {len(rule_table)}")
