"""spark-submit entry point: ``fhir-anonymizer verify``, arguments as in the CLI.

    spark-submit --py-files dist/fhir_lake_anonymizer-<version>-py3-none-any.whl jobs/verify.py --help

Exit codes: 0 ok, 1 runtime failure (or a failed check), 2 usage error. See docs/platform.md.
"""

from __future__ import annotations

import sys

from anonymizer.cli.job_entry import run

if __name__ == "__main__":
    sys.exit(run("verify", sys.argv[1:]))
