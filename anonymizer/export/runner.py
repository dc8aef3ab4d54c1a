"""``run_export``: kick off (or continue) an export and land its files, resumably and atomically.

Landing layout (``<landing>`` is a local folder or a Blob/ADLS container prefix)::

    <landing>/<export id>/<Type>.<nnn>.ndjson   resource files (line counts verified against the manifest)
    <landing>/<export id>/deleted/...           Bundles of deleted resources (incremental exports)
    <landing>/<export id>/error/...             OperationOutcomes the server reported (not output)
    <landing>/<export id>/manifest.json         written last: its presence marks the export complete
    <landing>/_state/...                        in-flight exports and ``--since auto`` (see ``state``)

Each file appears complete or not at all. A run records the in-flight export (status URL, files landed) before
downloading, so a re-run with the same arguments continues it and downloads only the missing files; it starts
over only when the server says the export has expired.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from anonymizer.export import state
from anonymizer.export.auth import TokenProvider
from anonymizer.export.client import BulkExportClient, ExportRequest, ExportResult, PollPolicy
from anonymizer.export.errors import ExportError, ExportExpiredError, JobFailedError, outcome_text
from anonymizer.storage.landing import LandingTarget

MANIFEST = "manifest.json"
_MAX_REASONS = 10


def run_export(request: ExportRequest, landing: LandingTarget, *, auth: TokenProvider | None = None,
               policy: PollPolicy | None = None, progress: Callable[[str], None] | None = None) -> ExportResult:  # fmt: skip
    """Kick off (or continue), wait, land every file (verified, idempotent), then the manifest and the state.

    Returns the result even when the server reported error files (``result.errors``); the caller decides whether
    a partial export is acceptable.
    """
    started = time.monotonic()
    client = BulkExportClient(request.fhir_url, auth=auth, policy=policy, progress=progress)
    key = state.request_key(request)
    flight = state.load_in_flight(landing, key)
    resumed, restarted = flight is not None, False
    while True:
        continuing = flight is not None
        if flight is None:
            flight = _start(client, request, landing, key)
        else:
            client.progress(
                f"continuing export {flight.export_id} started by an earlier run "
                f"({len(flight.landed)} files already landed)"
            )
        try:
            result = _finish(client, request, landing, key, flight, continuing)
        except ExportExpiredError as exc:
            if restarted:
                raise
            client.progress(f"{exc}; starting the export over")
            landing.delete_folder(flight.export_id)
            state.clear_in_flight(landing, key)
            flight, restarted = None, True
            continue
        result.resumed = resumed and not restarted
        result.seconds = time.monotonic() - started
        return result


def _start(
    client: BulkExportClient, request: ExportRequest, landing: LandingTarget, key: str
) -> state.InFlight:
    since = state.saved_since(landing, request) if request.since == "auto" else request.since
    if request.since == "auto":
        client.progress(f"--since auto: {since or 'no earlier complete export of these types: full export'}")
    status_url = client.kickoff(replace(request, since=since))
    export_id = request.export_id or status_url.rstrip("/").rsplit("/", 1)[-1]
    flight = state.InFlight(status_url=status_url, export_id=export_id, since=since)
    state.save_in_flight(landing, key, flight)
    client.progress(f"export {export_id} started")
    return flight


def _finish(client: BulkExportClient, request: ExportRequest, landing: LandingTarget, key: str,
            flight: state.InFlight, continuing: bool) -> ExportResult:  # fmt: skip
    export_id = flight.export_id
    manifest_name = f"{export_id}/{MANIFEST}"
    # An earlier run of this export landed everything and stopped before clearing its state.
    landed_before = continuing and landing.exists(manifest_name)
    if landed_before:
        manifest = json.loads(landing.read_bytes(manifest_name))
    else:
        try:
            manifest = client.wait(flight.status_url)
        except (JobFailedError, KeyboardInterrupt):
            # Failed for good, or cancelled (wait sent DELETE): nothing to resume.
            state.clear_in_flight(landing, key)
            landing.remove_if_empty(export_id)
            raise
    result = ExportResult(
        export_id=export_id, folder=landing.uri(export_id), transaction_time=manifest.get("transactionTime")
    )
    if request.container:
        client.progress(
            "the service wrote the files into the storage container itself; recording the manifest only"
        )
    elif not landed_before:
        try:
            _land_files(client, manifest, landing, key, flight, result)
        except KeyboardInterrupt:
            client.progress(
                f"interrupted: {len(flight.landed)} files of export {export_id} landed; "
                "run the same command again to download the rest"
            )
            raise
        except ExportError:
            landing.remove_if_empty(export_id)
            raise
    else:
        _count_from_record(manifest, flight, result)
    result.errors = _error_reasons(landing, [f for f in result.files if "/error/" in f])
    if result.errors:
        result.failed_types = _failed_types(request, manifest)
    landing.write_stream(manifest_name, [json.dumps(manifest, indent=2).encode()])
    record = {
        "transactionTime": result.transaction_time,
        "export_id": export_id,
        "fhir_url": request.fhir_url,
        "level": request.level,
        "group": request.group_id,
        "types": sorted(request.types),
        "since": flight.since,
        "errors": result.errors,
        "failed_types": result.failed_types,
    }
    state.record_finished(landing, request, record, complete=not result.errors)
    state.clear_in_flight(landing, key)
    return result


def _file_names(manifest: dict[str, Any], export_id: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, landing name, manifest item) of every file, numbered per type in manifest order."""
    for kind, sub in (("output", ""), ("deleted", "deleted/"), ("error", "error/")):
        seq: dict[str, int] = {}
        for item in manifest.get(kind, []):
            resource_type = str(item.get("type") or "Resource")
            seq[resource_type] = seq.get(resource_type, -1) + 1
            yield kind, f"{export_id}/{sub}{resource_type}.{seq[resource_type]:03d}.ndjson", item


def _land_files(client: BulkExportClient, manifest: dict[str, Any], landing: LandingTarget, key: str,
                flight: state.InFlight, result: ExportResult) -> None:  # fmt: skip
    requires_token = bool(manifest.get("requiresAccessToken"))
    for kind, name, item in _file_names(manifest, flight.export_id):
        result.files.append(name)
        if name in flight.landed or landing.exists(name):
            lines = flight.landed.get(name)
            if lines is None:  # renamed into place, then stopped before the state was saved
                lines = int(item["count"]) if item.get("count") is not None else _line_count(landing, name)
        else:
            counter = [0]
            # Only output counts are resource lines; an error file's count is not a line count to enforce.
            expected = item.get("count") if kind == "output" else None
            download = client.download(item["url"], requires_token)
            landing.write_stream(name, _verified(download, counter, expected, name))
            lines = counter[0]
            result.downloaded += 1
            client.progress(f"landed {name} ({lines} lines)")
        flight.landed[name] = lines
        state.save_in_flight(landing, key, flight)
        if kind == "output":
            resource_type = str(item.get("type") or "Resource")
            result.counts[resource_type] = result.counts.get(resource_type, 0) + lines


def _count_from_record(manifest: dict[str, Any], flight: state.InFlight, result: ExportResult) -> None:
    for kind, name, item in _file_names(manifest, flight.export_id):
        result.files.append(name)
        if kind == "output":
            resource_type = str(item.get("type") or "Resource")
            lines = flight.landed.get(name, int(item.get("count") or 0))
            result.counts[resource_type] = result.counts.get(resource_type, 0) + lines


def _line_count(landing: LandingTarget, name: str) -> int:
    data = landing.read_bytes(name)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _verified(
    chunks: Iterator[bytes], counter: list[int], expected: int | None, name: str
) -> Iterator[bytes]:
    tail = b""
    for chunk in chunks:
        counter[0] += chunk.count(b"\n")
        tail = chunk[-1:] if chunk else tail
        yield chunk
    if tail and tail != b"\n":
        counter[0] += 1
    if expected is not None and counter[0] != int(expected):
        # Raising inside the stream aborts the write: nothing half-landed stays under the final name.
        raise ExportError(f"{name}: {counter[0]} lines downloaded but the manifest says {expected}")


def _error_reasons(landing: LandingTarget, names: list[str]) -> list[str]:
    """The distinct reasons the error files' OperationOutcomes give (no resource content: diagnostics only)."""
    reasons: list[str] = []
    for name in names:
        for line in landing.read_bytes(name).splitlines():
            try:
                text = outcome_text(json.loads(line), limit=200)
            except ValueError:
                text = "an error line that is not JSON"
            text = text or "an OperationOutcome without diagnostics"
            if text not in reasons:
                reasons.append(text)
    return reasons[:_MAX_REASONS] + (
        [f"... {len(reasons) - _MAX_REASONS} more"] if len(reasons) > _MAX_REASONS else []
    )


def _failed_types(request: ExportRequest, manifest: dict[str, Any]) -> list[str]:
    """Requested types without any output file (when no types were requested, the reasons must say it)."""
    exported = {str(item.get("type")) for item in manifest.get("output", [])}
    return sorted(t for t in set(request.types) if t not in exported)


def partial_export_message(result: ExportResult) -> str:
    """One paragraph for the user: which types failed and the server's reasons."""
    failed = f"types without output: {', '.join(result.failed_types)}; " if result.failed_types else ""
    reasons = "; ".join(result.errors)
    return (
        f"the server reported errors for export {result.export_id} ({failed}reasons: {reasons}); "
        f"the OperationOutcomes are in {result.folder}/error/"
    )
