"""The notebooks run locally as plain scripts on the synthetic sample, so they cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _run(name: str, tmp_path: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, str(NOTEBOOKS / name)], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.py")))
def test_databricks_source_format(name: str) -> None:
    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n")
    assert text.count("\n# COMMAND ----------\n") >= 3
    assert "dbutils.secrets" not in text  # notebooks never read keys themselves


def test_explore_config(tmp_path: Path) -> None:
    done = _run("01_explore_config.py", tmp_path, 120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaves changed" in done.stdout
    assert "rules that fired:" in done.stdout


@pytest.mark.spark
def test_explore_research_zone(tmp_path: Path) -> None:
    done = _run("02_explore_research_zone.py", tmp_path, 480)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "encounters" in done.stdout and "Patient" in done.stdout
    assert '"leaks": 0' in done.stdout
    assert "views: condition, encounter, patient" in done.stdout and "birth_year" in done.stdout
