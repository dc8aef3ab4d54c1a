"""Issue #16 point 8: a quarantine at or below the research zone is refused whatever the spelling."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from anonymizer.spark.pipeline import DeidentifyError, DeidentifyRequest, run_deidentify
from anonymizer.storage.locations import is_at_or_below


@pytest.mark.parametrize(
    ("quarantine", "output"),
    [
        ("{t}/research/q", "file://{t}/research"),
        ("file://{t}/research/q", "{t}/research"),
        ("file:{t}/research/./q", "{t}/research/"),
        ("{t}/other/../research/q", "{t}/research"),
        ("{t}/research", "{t}/research"),
        ("{t}/link/q", "{t}/research"),  # a symlink to the research zone
        (
            "abfss://zone@acct.dfs.core.windows.net/research/q",
            "abfss://zone@ACCT.dfs.core.windows.net/research/",
        ),
        (
            "abfs://zone@acct.dfs.core.windows.net/research//q",
            "abfss://zone@acct.dfs.core.windows.net/research",
        ),
    ],
)
def test_quarantine_inside_the_research_zone_is_recognised(
    quarantine: str, output: str, tmp_path: Path
) -> None:
    (tmp_path / "research").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "research")
    assert is_at_or_below(quarantine.format(t=tmp_path), output.format(t=tmp_path))


@pytest.mark.parametrize(
    ("quarantine", "output"),
    [
        ("{t}/research-quarantine", "{t}/research"),
        ("file://{t}/q", "{t}/research"),
        (
            "abfss://other@acct.dfs.core.windows.net/research/q",
            "abfss://zone@acct.dfs.core.windows.net/research",
        ),
        ("abfss://zone@acct.dfs.core.windows.net/research/q", "{t}/research"),
    ],
)
def test_quarantine_beside_the_research_zone_is_fine(quarantine: str, output: str, tmp_path: Path) -> None:
    assert not is_at_or_below(quarantine.format(t=tmp_path), output.format(t=tmp_path))


def test_deidentify_refuses_a_quarantine_spelled_differently_before_starting(tmp_path: Path) -> None:
    request = DeidentifyRequest(
        input=str(tmp_path / "landing"),
        output=f"file://{tmp_path}/research",
        config="configs/hipaa-safe-harbor.json",
        quarantine=str(tmp_path / "research" / "q"),
        as_of=date(2026, 12, 2),
    )
    with pytest.raises(DeidentifyError, match="quarantine"):
        run_deidentify(request, spark=object())  # refused before any Spark call


def test_purge_history_needs_overwrite(tmp_path: Path) -> None:
    """Issue #16 point 9: a merge keeps older rows on purpose, so purging its history is refused up front."""
    request = DeidentifyRequest(
        input=str(tmp_path / "landing"),
        output=str(tmp_path / "research"),
        config="configs/hipaa-safe-harbor.json",
        purge_history=True,
    )
    with pytest.raises(DeidentifyError, match="--purge-history needs --mode overwrite"):
        run_deidentify(request, spark=object())
