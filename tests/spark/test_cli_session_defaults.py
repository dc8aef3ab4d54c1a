"""What a CLI command's local session is started with: the command's own defaults under the user's --conf."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer.spark import session as session_module
from anonymizer.spark.settings import VIEWS_LOCAL_CONF


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Capture the local sessions cli_session would start, as if no session existed yet."""
    calls: list[dict[str, Any]] = []
    monkeypatch.delenv(session_module.REMOTE_ENV, raising=False)
    monkeypatch.setattr(session_module, "has_configured_master", lambda: False)
    monkeypatch.setattr(session_module, "_active_exists", lambda: False)
    monkeypatch.setattr(
        session_module, "local_session", lambda master, **kwargs: calls.append({"master": master, **kwargs})
    )
    return calls


def test_local_defaults_are_a_layer_under_the_users_conf(started: list[dict[str, Any]]) -> None:
    overrides = {"spark.driver.memory": "6g"}
    session_module.cli_session(None, overrides, local_defaults=VIEWS_LOCAL_CONF)
    (call,) = started
    assert call["master"] == "local[*]"
    assert call["extra_layers"] == (VIEWS_LOCAL_CONF,)
    assert call["conf"] == overrides  # local_session applies conf last: the user's value wins
    merged = session_module.merged_conf(*call["extra_layers"], overrides=call["conf"])
    assert merged["spark.driver.memory"] == "6g"


def test_without_local_defaults_nothing_is_added(started: list[dict[str, Any]]) -> None:
    session_module.cli_session("local[2]", {})
    assert started[0]["extra_layers"] == ()


def test_the_views_command_starts_its_local_session_with_a_larger_heap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from anonymizer.cli import views as views_cli
    from anonymizer.cli.main import main

    seen: dict[str, Any] = {}

    def session_from_args(args: Any, app_name: str, local_defaults: Any = None) -> Any:
        seen["local_defaults"] = local_defaults
        raise SystemExit(7)  # stop before anything runs

    monkeypatch.setattr(views_cli, "session_from_args", session_from_args)
    with pytest.raises(SystemExit) as stopped:
        main(["views", "--research", str(tmp_path)])
    assert stopped.value.code == 7
    assert seen["local_defaults"] == VIEWS_LOCAL_CONF == {"spark.driver.memory": "2g"}
