"""One error root, one table of exit codes: every command maps every error family the same way, shows an
anticipated error's (safe) message, and never shows the message of an unanticipated one (it may hold PHI)."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest

import anonymizer
from anonymizer.cli.errors import EXIT_CODES, EXIT_INTERRUPTED, EXIT_RUNTIME, EXIT_USAGE, CliError
from anonymizer.cli.main import main as cli
from anonymizer.errors import AnonymizerError, ConfigError, UsageError
from anonymizer.export.errors import AuthError, ExportError
from anonymizer.spark.input_files import InputFilesError
from anonymizer.spark.jars import JarResolutionError
from anonymizer.spark.pipeline import DeidentifyError
from anonymizer.spark.preflight import PreflightError
from anonymizer.spark.resource_format import ResourceFormatError
from anonymizer.spark.zone_fs import ZoneFsError
from anonymizer.verify.zone import ZoneError
from anonymizer.views.errors import ViewDefinitionError, ViewEvaluationError

PLANTED = "Sumiko254 Larue605"  # a patient's name from the sample: must never reach the terminal

#: Each command with the least arguments it parses, and the module attribute that is its handler.
COMMANDS: dict[str, tuple[list[str], str, str]] = {
    "export": (["export", "--fhir-url", "http://127.0.0.1:9/fhir", "--landing", "l"], "anonymizer.cli.export", "run"),
    "deidentify": (["deidentify", "--input", "i", "--output", "o", "--config", "c"], "anonymizer.cli.deidentify", "run"),
    "verify": (["verify", "--source", "s", "--output", "o", "--config", "c", "--report", "r"], "anonymizer.cli.verify", "run"),
    "run": (["run", "--output", "o"], "anonymizer.cli.run", "run"),
    "check-config": (["check-config", "c.json"], "anonymizer.cli.check_config", "run"),
    "views": (["views", "--research", "r"], "anonymizer.cli.views", "run"),
    "views conformance": (["views", "conformance", "t", "--report", "r"], "anonymizer.cli.views", "run_conformance"),
    "setup": (["setup"], "anonymizer.cli.setup", "run"),
}  # fmt: skip

#: The documented exit code of each error family (README "Usage", docs/design.md "Errors and exit codes").
FAMILIES: dict[str, tuple[Callable[[str], BaseException], int]] = {
    "usage": (UsageError, EXIT_USAGE),
    "view definition": (ViewDefinitionError, EXIT_USAGE),
    "config": (ConfigError, EXIT_RUNTIME),
    "export": (ExportError, EXIT_RUNTIME),
    "export auth": (AuthError, EXIT_RUNTIME),
    "input files": (InputFilesError, EXIT_RUNTIME),
    "deidentify": (DeidentifyError, EXIT_RUNTIME),
    "preflight": (PreflightError, EXIT_RUNTIME),
    "resource format": (ResourceFormatError, EXIT_RUNTIME),
    "zone file system": (ZoneFsError, EXIT_RUNTIME),
    "research zone": (ZoneError, EXIT_RUNTIME),
    "view evaluation": (ViewEvaluationError, EXIT_RUNTIME),
    "delta jars": (JarResolutionError, EXIT_RUNTIME),
    "failed outcome": (CliError, EXIT_RUNTIME),
}


@pytest.fixture(autouse=True)
def _log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FHIR_ANONYMIZER_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("FHIR_ANONYMIZER_LOG_FILE", raising=False)
    return tmp_path / "logs"


def _run_raising(
    command: str, exc: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """Run ``command`` with its handler replaced by one that raises ``exc``; (exit code, stdout + stderr)."""
    argv, module_name, attr = COMMANDS[command]

    def handler(args: object) -> None:
        raise exc

    monkeypatch.setattr(importlib.import_module(module_name), attr, handler)
    with pytest.raises(SystemExit) as done:
        cli(argv)
    out = capsys.readouterr()
    assert isinstance(done.value.code, int)
    return done.value.code, out.out + out.err


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_maps_each_error_family_to_its_exit_code_with_its_message(
    command: str, family: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error_class, expected = FAMILIES[family]
    message = f"{family} failed: see the named file"
    code, shown = _run_raising(command, error_class(message), monkeypatch, capsys)
    assert code == expected
    assert f"error: {message}" in shown


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unanticipated_exception_shows_its_class_never_its_message(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], _log_dir: Path
) -> None:
    for exc in (ValueError(f"cannot parse {PLANTED!r}"), KeyError(PLANTED), RuntimeError(PLANTED)):
        code, shown = _run_raising(command, exc, monkeypatch, capsys)
        assert code == EXIT_RUNTIME
        assert PLANTED not in shown
        assert f"error: {type(exc).__name__}" in shown and "details (stack traces):" in shown
    logs = list(_log_dir.iterdir())
    assert logs and all(PLANTED in log.read_text() for log in logs)  # the details are in the private log
    assert all(log.stat().st_mode & 0o077 == 0 for log in logs)


@pytest.mark.parametrize("command", ["deidentify", "run", "views"])
def test_an_anticipated_error_raised_from_data_shows_only_its_own_message(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        try:
            raise ValueError(f"line 3: {PLANTED}")
        except ValueError as inner:
            raise DeidentifyError("input.ndjson line 3 cannot be read") from inner
    except DeidentifyError as exc:
        raised = exc
    code, shown = _run_raising(command, raised, monkeypatch, capsys)
    assert code == EXIT_RUNTIME
    assert "error: input.ndjson line 3 cannot be read" in shown and PLANTED not in shown


@pytest.mark.parametrize("command", COMMANDS)
def test_interrupted(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, shown = _run_raising(command, KeyboardInterrupt(), monkeypatch, capsys)
    assert code == EXIT_INTERRUPTED and "interrupted" in shown


def test_the_table_decides_by_the_most_specific_family() -> None:
    from anonymizer.cli.errors import exit_code

    assert exit_code(ViewDefinitionError("x")) == EXIT_USAGE  # before AnonymizerError and ValueError
    assert exit_code(ZoneFsError("x")) == EXIT_RUNTIME  # an OSError too
    assert set(EXIT_CODES.values()) == {EXIT_USAGE, EXIT_RUNTIME, EXIT_INTERRUPTED}


def _package_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(anonymizer.__path__, "anonymizer."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


#: Exceptions used as internal control flow, caught where they are raised, never an error a caller sees.
CONTROL_FLOW = {
    "anonymizer.fhirpath.predicates.Undecided": "caught in fhirpath.expressions, which then asks fhirpathpy",
}


def test_every_error_the_package_defines_derives_from_the_one_root() -> None:
    classes = _package_exceptions()
    assert len(classes) >= 20, [c.__name__ for c in classes]
    names = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, AnonymizerError)]
    outside = [name for name in names if name not in CONTROL_FLOW]
    assert not outside, outside


# The failures of issue 13 found through the real commands (no handler replaced): a config error and a bad
# ViewDefinition reach the one table with their message, before any Spark session starts.


def _dead_rule_config(tmp_path: Path, repo_root: Path) -> Path:
    config = json.loads((repo_root / "configs" / "hipaa-safe-harbor.json").read_text())
    config["fhirPathRules"].insert(0, {"path": "Patient.nmae", "method": "redact"})
    path = tmp_path / "dead-rule.json"
    path.write_text(json.dumps(config))
    return path


def test_config_errors_reach_the_table_from_run_deidentify_and_verify(
    tmp_path: Path, repo_root: Path, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_dead_rule_config(tmp_path, repo_root))
    out = str(tmp_path / "out")
    for argv in (
        ["run", "--output", out, "--landing", str(sample_dir), "--config", config],
        ["deidentify", "--input", str(sample_dir), "--output", out, "--config", config],
        [
            "verify",
            "--source",
            str(sample_dir),
            "--output",
            str(tmp_path),
            "--config",
            config,
            "--report",
            out,
        ],
    ):
        with pytest.raises(SystemExit) as done:
            cli(argv)
        err = capsys.readouterr().err
        assert done.value.code == EXIT_RUNTIME, argv
        assert "Patient.nmae" in err and "Patient.name" in err, err  # the config check's own words


def test_an_invalid_view_definition_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "ViewDefinition", "name": "x", "resource": "Patient"}))
    with pytest.raises(SystemExit) as done:
        cli(["views", "--research", str(tmp_path), "--views", str(bad)])
    assert done.value.code == EXIT_USAGE
    assert "error: " in capsys.readouterr().err
