"""spark-submit entry point: ``fhir-anonymizer views``, arguments as in the CLI.

    spark-submit --py-files dist/fhir_lake_anonymizer-<version>-py3-none-any.whl jobs/views.py \\
        --research RESEARCH --views views/

Exit codes: 0 ok, 1 runtime failure (a view that cannot evaluate a resource), 2 usage error. See docs/views.md.
"""

from __future__ import annotations

import sys

from anonymizer.cli.job_entry import run

if __name__ == "__main__":
    sys.exit(run("views", sys.argv[1:]))
