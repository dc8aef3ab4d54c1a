"""The Bulk Data client: kick-off, polling with Retry-After / back-off, manifest paging, streaming downloads.

Landing layout (``<landing>`` is a local folder or a Blob/ADLS container prefix)::

    <landing>/<export id>/<Type>.<nnn>.ndjson   resource files (line counts verified against the manifest)
    <landing>/<export id>/deleted/...           Bundles of deleted resources (incremental exports)
    <landing>/<export id>/error/...             OperationOutcomes the server reported
    <landing>/<export id>/manifest.json         the completion manifest (pages merged)
    <landing>/_state/last_export.json           transactionTime of the last complete export (next ``_since``)

A file is written under a temporary name and appears complete or not at all; a re-run of the same export id
skips files already landed, so an interrupted export is finished by running it again.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from anonymizer.export.auth import TokenProvider
from anonymizer.storage.landing import LandingTarget

log = logging.getLogger("anonymizer.export")
STATE_FILE = "_state/last_export.json"
TRANSIENT = frozenset({429, 500, 502, 503, 504})


class ExportError(RuntimeError):
    """The export failed; the message is safe to show (no tokens, no data)."""


@dataclass(frozen=True)
class ExportRequest:
    """Kick-off parameters.

    Attributes:
        fhir_url: FHIR base URL.
        level: ``system``, ``patient`` or ``group``.
        group_id: Group id for ``group`` level.
        types: ``_type`` resource types.
        since: ``_since`` instant; ``"auto"`` uses the transactionTime of the last export landed here.
        type_filters: ``_typeFilter`` queries.
        container: Azure ``_container``: the service writes the files into that storage container itself.
        use_post: kick off with POST and a Parameters body (servers that want it).
        azure: only send parameters the Azure FHIR service accepts (it rejects unknown ones with 400).
    """

    fhir_url: str
    level: str = "system"
    group_id: str | None = None
    types: tuple[str, ...] = ()
    since: str | None = None
    type_filters: tuple[str, ...] = ()
    container: str | None = None
    use_post: bool = False
    azure: bool = False
    export_id: str | None = None


@dataclass
class ExportResult:
    """What landed."""

    export_id: str
    folder: str
    transaction_time: str | None
    files: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class PollPolicy:
    """Polling and retry behaviour (tests shrink the delays)."""

    initial_delay_s: float = 2.0
    max_delay_s: float = 120.0
    max_wait_s: float = 24 * 3600
    max_retries: int = 8
    sleep: Callable[[float], None] = time.sleep


class BulkExportClient:
    """Talks to one FHIR server."""

    def __init__(self, fhir_url: str, *, auth: TokenProvider | None = None, policy: PollPolicy | None = None,
                 session: requests.Session | None = None, progress: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.base = fhir_url.rstrip("/")
        self.auth = auth
        self.policy = policy or PollPolicy()
        self.session = session or requests.Session()
        self.progress = progress or (lambda message: log.info("%s", message))

    # -- HTTP -----------------------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/fhir+json"}
        if self.auth is not None:
            headers["Authorization"] = f"Bearer {self.auth.token()}"
        headers.update(extra or {})
        return headers

    def _request(self, method: str, url: str, *, stream: bool = False, **kw: Any) -> requests.Response:
        """One request with retries on connection errors, 429 and transient 5xx; 401 refreshes the token once."""
        delay = self.policy.initial_delay_s
        refreshed = False
        for attempt in range(self.policy.max_retries + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=self._headers(kw.pop("headers", None)),
                    stream=stream,
                    timeout=60,
                    **kw,
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.policy.max_retries:
                    raise ExportError(
                        f"{method} {_safe(url)}: server unreachable after {attempt + 1} attempts"
                    ) from None
                self.policy.sleep(delay)
                delay = min(delay * 2, self.policy.max_delay_s)
                continue
            if response.status_code == 401 and self.auth is not None and not refreshed:
                self.auth.invalidate()
                refreshed = True
                continue
            if response.status_code in TRANSIENT and attempt < self.policy.max_retries:
                wait = retry_after_seconds(response.headers.get("Retry-After")) or delay
                self.progress(f"server answered {response.status_code}; retrying in {wait:.1f}s")
                self.policy.sleep(min(wait, self.policy.max_delay_s))
                delay = min(delay * 2, self.policy.max_delay_s)
                continue
            return response
        raise ExportError(f"{method} {_safe(url)}: gave up after retries")

    # -- protocol -------------------------------------------------------------------------------------
    def kickoff(self, request: ExportRequest) -> str:
        """Start the export; returns the status URL (Content-Location)."""
        path = {
            "system": "$export",
            "patient": "Patient/$export",
            "group": f"Group/{request.group_id}/$export",
        }[request.level]
        if request.level == "group" and not request.group_id:
            raise ExportError("group level export needs --group")
        params = _kickoff_params(request)
        headers = {"Prefer": "respond-async"}
        if request.use_post:
            body = {
                "resourceType": "Parameters",
                "parameter": [{"name": k, "valueString": v} for k, v in params],
            }
            response = self._request(
                "POST",
                f"{self.base}/{path}",
                json=body,
                headers={**headers, "Content-Type": "application/fhir+json"},
            )
        else:
            response = self._request("GET", f"{self.base}/{path}", params=params, headers=headers)
        if response.status_code != 202 or "Content-Location" not in response.headers:
            raise ExportError(f"kick-off refused (HTTP {response.status_code}): {_outcome_text(response)}")
        return response.headers["Content-Location"]

    def wait(self, status_url: str) -> dict[str, Any]:
        """Poll until complete; returns the manifest. Ctrl-C cancels the job (DELETE) and re-raises."""
        started = time.monotonic()
        delay = self.policy.initial_delay_s
        try:
            while True:
                response = self._request("GET", status_url)
                if response.status_code == 200:
                    return self._full_manifest(response.json())
                if response.status_code != 202:
                    raise ExportError(
                        f"export job failed (HTTP {response.status_code}): {_outcome_text(response)}"
                    )
                progress = response.headers.get("X-Progress")
                self.progress(f"export in progress{': ' + progress if progress else ''}")
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is None:  # Azure sends none: our own exponential back-off
                    wait, delay = delay, min(delay * 2, self.policy.max_delay_s)
                if time.monotonic() - started + wait > self.policy.max_wait_s:
                    raise ExportError(f"export did not complete within {self.policy.max_wait_s:.0f}s")
                self.policy.sleep(min(wait, self.policy.max_delay_s))
        except KeyboardInterrupt:
            self.cancel(status_url)
            raise

    def cancel(self, status_url: str) -> None:
        """Ask the server to cancel the job and delete its files."""
        try:
            self.session.delete(status_url, headers=self._headers(), timeout=30)
            self.progress("export cancelled (DELETE sent)")
        except requests.RequestException:
            self.progress("export cancel request failed")

    def _full_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Merge partial manifests that continue through ``link`` (rel=next)."""
        pages = [manifest]
        while True:
            nxt = next(
                (link.get("url") for link in pages[-1].get("link", []) if link.get("relation") == "next"),
                None,
            )
            if not nxt:
                break
            response = self._request("GET", nxt)
            if response.status_code != 200:
                raise ExportError(f"manifest page failed (HTTP {response.status_code})")
            pages.append(response.json())
        merged = dict(pages[0])
        for key in ("output", "deleted", "error"):
            merged[key] = [item for page in pages for item in page.get(key, [])]
        merged.pop("link", None)
        return merged

    def download(self, url: str, requires_token: bool) -> Iterator[bytes]:
        """Stream one file, resuming with Range after a dropped connection; gzip is decoded."""
        received = 0
        decoder: Any = None
        for _attempt in range(self.policy.max_retries + 1):
            headers = {"Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"}
            if received:
                headers["Range"] = f"bytes={received}-"
            auth, self.auth = self.auth, (self.auth if requires_token else None)
            try:
                response = self._request("GET", url, stream=True, headers=headers)
            finally:
                self.auth = auth
            if response.status_code not in (200, 206):
                raise ExportError(f"download of {_safe(url)} failed (HTTP {response.status_code})")
            if received and response.status_code == 200:
                raise ExportError(
                    f"download of {_safe(url)} was interrupted and the server cannot resume (no Range support)"
                )
            gzipped = response.headers.get("Content-Encoding") == "gzip" or url.split("?")[0].endswith(".gz")
            if gzipped and decoder is None:
                decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                for chunk in response.raw.stream(1 << 16, decode_content=False):
                    received += len(chunk)
                    yield decoder.decompress(chunk) if decoder else chunk
                if decoder:
                    yield decoder.flush()
                return
            except (
                requests.ConnectionError,
                OSError,
                Exception,
            ) as exc:  # urllib3 ProtocolError on a dropped connection
                if isinstance(exc, ExportError):
                    raise
                self.progress(f"download interrupted after {received} bytes; resuming")
                self.policy.sleep(self.policy.initial_delay_s)
        raise ExportError(f"download of {_safe(url)} failed after retries")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _kickoff_params(request: ExportRequest) -> list[tuple[str, str]]:
    if request.azure and request.use_post:
        raise ExportError(
            "the Azure FHIR service routes $export kick-off for GET only (no POST Parameters body)"
        )
    params: list[tuple[str, str]] = [("_outputFormat", "application/fhir+ndjson")]
    if request.types:
        params.append(("_type", ",".join(request.types)))
    if request.since:
        params.append(("_since", request.since))
    for type_filter in request.type_filters:
        params.append(("_typeFilter", type_filter))
    if request.container:
        if not request.azure:
            raise ExportError("_container is an Azure FHIR service parameter: add --azure")
        params.append(("_container", request.container))
    return params


def _outcome_text(response: requests.Response) -> str:
    try:
        body = response.json()
        issues = body.get("issue", []) if isinstance(body, dict) else []
        return "; ".join(str(i.get("diagnostics") or i.get("code")) for i in issues)[:300] or "no details"
    except ValueError:
        return "no details"


def _safe(url: str) -> str:
    return url.split("?")[0]


def _count_lines(chunks: Iterator[bytes], counter: list[int]) -> Iterator[bytes]:
    tail = b""
    for chunk in chunks:
        counter[0] += chunk.count(b"\n")
        tail = chunk[-1:] if chunk else tail
        yield chunk
    if tail and tail != b"\n":
        counter[0] += 1


def run_export(request: ExportRequest, landing: LandingTarget, *, auth: TokenProvider | None = None,
               policy: PollPolicy | None = None, progress: Callable[[str], None] | None = None) -> ExportResult:  # fmt: skip
    """Kick off, wait, land every file (verified, idempotent), save the manifest and the transactionTime state."""
    started = time.monotonic()
    if request.since == "auto":
        request = _with_saved_since(request, landing)
    client = BulkExportClient(request.fhir_url, auth=auth, policy=policy, progress=progress)
    status_url = client.kickoff(request)
    export_id = request.export_id or status_url.rstrip("/").rsplit("/", 1)[-1]
    manifest = client.wait(status_url)
    result = ExportResult(
        export_id=export_id, folder=landing.uri(export_id), transaction_time=manifest.get("transactionTime")
    )
    if request.container:
        client.progress(
            "the service wrote the files into the storage container itself; recording the manifest only"
        )
    else:
        requires_token = bool(manifest.get("requiresAccessToken"))
        for kind, sub in (("output", ""), ("deleted", "deleted/"), ("error", "error/")):
            seq: dict[str, int] = {}
            for item in manifest.get(kind, []):
                resource_type = item.get("type", "Resource")
                seq[resource_type] = seq.get(resource_type, -1) + 1
                name = f"{export_id}/{sub}{resource_type}.{seq[resource_type]:03d}.ndjson"
                result.files.append(name)
                if landing.exists(name):
                    continue  # landed by an earlier, interrupted run of this export
                counter = [0]
                landing.write_stream(
                    name,
                    _verified(client.download(item["url"], requires_token), counter, item.get("count"), name),
                )
                if kind == "output":
                    result.counts[resource_type] = result.counts.get(resource_type, 0) + counter[0]
                client.progress(f"landed {name} ({counter[0]} lines)")
    landing.write_stream(f"{export_id}/manifest.json", [json.dumps(manifest, indent=2).encode()])
    if result.transaction_time:
        state = {
            "transactionTime": result.transaction_time,
            "export_id": export_id,
            "fhir_url": request.fhir_url,
        }
        landing.write_stream(STATE_FILE, [json.dumps(state).encode()])
    result.seconds = time.monotonic() - started
    return result


def _verified(
    chunks: Iterator[bytes], counter: list[int], expected: int | None, name: str
) -> Iterator[bytes]:
    yield from _count_lines(chunks, counter)
    if expected is not None and counter[0] != int(expected):
        # Raising inside the stream aborts the write: nothing half-landed stays under the final name.
        raise ExportError(f"{name}: {counter[0]} lines downloaded but the manifest says {expected}")


def _with_saved_since(request: ExportRequest, landing: LandingTarget) -> ExportRequest:
    from dataclasses import replace

    if not landing.exists(STATE_FILE):
        return replace(request, since=None)
    state = json.loads(landing.read_bytes(STATE_FILE))
    return replace(request, since=state.get("transactionTime"))
