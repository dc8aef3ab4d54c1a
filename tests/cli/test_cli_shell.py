"""The CLI shell: help, option parsing, lazy imports, exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from anonymizer.cli.errors import EXIT_USAGE, UsageError
from anonymizer.cli.main import build_parser, main
from anonymizer.cli.spark_options import parse_conf


def test_help_lists_setup_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "setup" in capsys.readouterr().out


def test_missing_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == EXIT_USAGE


def test_parse_conf_pairs() -> None:
    assert parse_conf(["spark.a=1", "spark.b=x=y"]) == {"spark.a": "1", "spark.b": "x=y"}
    with pytest.raises(UsageError):
        parse_conf(["novalue"])


def test_import_and_help_do_not_start_spark() -> None:
    code = (
        "import sys, anonymizer, anonymizer.cli.main as m\n"
        "m.build_parser()\n"
        "assert 'pyspark' not in sys.modules, sorted(k for k in sys.modules if 'spark' in k)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_registered_command_has_a_handler() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices, "no subcommands registered"
    for name, command_parser in sub.choices.items():
        assert command_parser.get_default("handler") is not None, name


def _declared(parser: argparse.ArgumentParser) -> set[str]:
    """Every option a parser declares, its nested sub-commands' included (``views conformance``)."""
    declared: set[str] = set()
    for action in parser._actions:
        declared.add(action.dest)
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                declared |= _declared(nested)
    return declared


def test_every_option_a_command_reads_is_declared() -> None:
    """Each subcommand's run() must only read attributes its parser defines (a missing one crashes at run time)."""
    import ast
    import importlib
    import inspect

    from anonymizer.cli.main import COMMANDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command_parser in sub.choices.items():
        declared = _declared(command_parser) | {"verbose", "handler", "command"}
        module = importlib.import_module(COMMANDS[name])
        tree = ast.parse(inspect.getsource(module))
        used = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "args"
        }
        assert used <= declared, f"{name}: {sorted(used - declared)} read but not declared"
