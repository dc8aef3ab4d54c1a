"""Command-line interface of the pipeline (``fhir-anonymizer``)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; see :mod:`anonymizer.cli.main`."""
    from anonymizer.cli.main import main as _main

    _main(argv)
