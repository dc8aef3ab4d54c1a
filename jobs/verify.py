"""spark-submit entry point: ``fhir-anonymizer verify``, arguments as in the CLI.

    spark-submit --py-files dist/fhir_lake_anonymizer-<version>-py3-none-any.whl jobs/verify.py --help

Exit codes: 0 ok, 1 runtime failure (or a failed check), 2 usage error. See docs/platform.md.
"""

from __future__ import annotations

import sys

from anonymizer.cli.main import main

COMMAND = "verify"


def run(argv: list[str]) -> int:
    """Run the subcommand with ``argv``; return the process exit code."""
    try:
        main([COMMAND, *argv])
    except SystemExit as exc:  # argparse and the CLI leave through SystemExit(code)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
