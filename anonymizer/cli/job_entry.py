"""What the ``jobs/*.py`` spark-submit shims share: run one subcommand and turn its outcome into an exit code."""

from __future__ import annotations

from anonymizer.cli.main import main


def run(command: str, argv: list[str]) -> int:
    """Run ``fhir-anonymizer <command> <argv>``; 0 ok, 1 runtime failure (or a failed check), 2 usage error."""
    try:
        main([command, *argv])
    except SystemExit as exc:  # argparse and the CLI leave through SystemExit(code)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
