"""The export step of ``fhir-anonymizer run``: a real $export, from --fhir-url or the built-in test server (--demo)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anonymizer.cli.errors import CliError


def export_for_run(args: argparse.Namespace, landing: Path, *, demo_data: Path) -> Path:
    """Export into ``landing``; returns the folder of this export's files."""
    from anonymizer.export.client import ExportRequest, PollPolicy
    from anonymizer.export.errors import ExportError
    from anonymizer.export.runner import partial_export_message, run_export
    from anonymizer.storage.landing import LocalLanding

    def progress(message: str) -> None:
        print(f"export: {message}", file=sys.stderr)

    try:
        if args.fhir_url:
            result = run_export(
                ExportRequest(fhir_url=args.fhir_url), LocalLanding(landing), progress=progress
            )
        else:
            from anonymizer.testing.fhir_server import BulkDataTestServer, ServerConfig

            with BulkDataTestServer(ServerConfig(data_dir=demo_data)) as server:
                print(f"demo: built-in Bulk Data test server at {server.base_url} (127.0.0.1 only)")
                policy = PollPolicy(initial_delay_s=0.2, max_delay_s=1.0)
                result = run_export(
                    ExportRequest(fhir_url=server.base_url),
                    LocalLanding(landing),
                    policy=policy,
                    progress=progress,
                )
    except ExportError as exc:
        raise CliError(str(exc)) from None
    if result.errors:
        raise CliError(partial_export_message(result))
    print(
        f"export {result.export_id}: {sum(result.counts.values())} resources in {result.seconds:.1f}s -> {result.folder}"
    )
    return Path(result.folder)
