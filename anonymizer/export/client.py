"""The Bulk Data client: kick-off, polling with Retry-After / back-off, manifest paging, streaming downloads.

Every attempt of a request sends exactly the headers of the first (plus a fresh token): a retried kick-off keeps
``Prefer: respond-async``, a retried download keeps ``Accept-Encoding`` and ``Range``. Landing the files (resume,
state, error files) is :mod:`anonymizer.export.runner`.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from anonymizer.export.auth import TokenProvider
from anonymizer.export.errors import ExportError, ExportExpiredError, JobFailedError, response_reason

log = logging.getLogger("anonymizer.export")
TRANSIENT = frozenset({429, 500, 502, 503, 504})
GONE = frozenset({404, 410})
#: A ``Retry-After`` number this large is a Unix time (some servers send one), not a delay of 30+ years.
EPOCH_THRESHOLD_S = 1e9

__all__ = [
    "BulkExportClient",
    "ExportError",
    "ExportRequest",
    "ExportResult",
    "PollPolicy",
    "retry_after_seconds",
]


@dataclass(frozen=True)
class ExportRequest:
    """Kick-off parameters.

    Attributes:
        fhir_url: FHIR base URL.
        level: ``system``, ``patient`` or ``group``.
        group_id: Group id for ``group`` level.
        types: ``_type`` resource types.
        since: ``_since`` instant; ``"auto"`` uses the transactionTime of the last complete export landed here
            with the same server, level, group and types.
        type_filters: ``_typeFilter`` queries.
        container: Azure ``_container``: the service writes the files into that storage container itself.
        use_post: kick off with POST and a Parameters body (servers that want it).
        azure: only send parameters the Azure FHIR service accepts (it rejects unknown ones with 400).
        export_id: name of the landing folder (default: the last segment of the status URL).
        allow_partial_manifests: Bulk Data 2.0 ``allowPartialManifests``: the server may page the manifest.
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
    allow_partial_manifests: bool = False


@dataclass
class ExportResult:
    """What landed.

    Attributes:
        downloaded: files downloaded by this run (a resumed export downloads only the missing ones).
        errors: the server's reasons from the manifest's error files (OperationOutcomes), deduplicated.
        failed_types: requested types the server exported no file for while it reported errors.
        resumed: this run continued an export an earlier run had started.
    """

    export_id: str
    folder: str
    transaction_time: str | None
    files: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    downloaded: int = 0
    errors: list[str] = field(default_factory=list)
    failed_types: list[str] = field(default_factory=list)
    resumed: bool = False


@dataclass
class PollPolicy:
    """Polling and retry behaviour (tests shrink the delays).

    ``max_delay_s`` caps our own back-off; a server's ``Retry-After`` is honoured as asked (never polling sooner)
    up to ``max_server_wait_s``, beyond which the client gives up rather than sleep for hours.
    """

    initial_delay_s: float = 2.0
    max_delay_s: float = 120.0
    max_wait_s: float = 24 * 3600
    max_retries: int = 8
    max_server_wait_s: float = 3600.0
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
    def _headers(self, extra: dict[str, str], with_token: bool) -> dict[str, str]:
        headers = {"Accept": "application/fhir+json", **extra}
        if with_token and self.auth is not None:
            headers["Authorization"] = f"Bearer {self.auth.token()}"
        return headers

    def _request(self, method: str, url: str, *, stream: bool = False, headers: dict[str, str] | None = None,
                 with_token: bool = True, **kw: Any) -> requests.Response:  # fmt: skip
        """One request with retries on connection errors, 429 and transient 5xx; 401 refreshes the token once.

        Every attempt sends the same headers (``headers`` is never consumed), with a fresh token.
        """
        extra = dict(headers or {})
        delay = self.policy.initial_delay_s
        refreshed = False
        for attempt in range(self.policy.max_retries + 1):
            try:
                response = self.session.request(
                    method, url, headers=self._headers(extra, with_token), stream=stream, timeout=60, **kw
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.policy.max_retries:
                    raise ExportError(
                        f"{method} {_safe(url)}: server unreachable after {attempt + 1} attempts"
                    ) from None
                self.progress(f"{method} {_safe(url)}: connection failed; retrying in {delay:.1f}s")
                self.policy.sleep(delay)
                delay = min(delay * 2, self.policy.max_delay_s)
                continue
            log.debug("%s %s -> HTTP %s", method, _safe(url), response.status_code)
            if response.status_code == 401 and with_token and self.auth is not None and not refreshed:
                self.auth.invalidate()
                refreshed = True
                continue
            if (
                response.status_code in TRANSIENT
                and attempt < self.policy.max_retries
                and _retryable(response)
            ):
                wait = self._server_wait(response) or delay
                self.progress(f"server answered {response.status_code}; retrying in {wait:.1f}s")
                self.policy.sleep(wait)
                delay = min(delay * 2, self.policy.max_delay_s)
                continue
            return response
        raise ExportError(f"{method} {_safe(url)}: gave up after retries")

    def _server_wait(self, response: requests.Response) -> float | None:
        """The wait a response's ``Retry-After`` asks for; too long a wait is an error, not a sleep."""
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is not None and wait > self.policy.max_server_wait_s:
            raise ExportError(
                f"the server asks to retry in {wait:.0f}s (Retry-After), more than "
                f"{self.policy.max_server_wait_s:.0f}s: try again later"
            )
        return wait

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
                "parameter": [_parameter(k, v) for k, v in params],
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
            raise ExportError(f"kick-off refused (HTTP {response.status_code}): {response_reason(response)}")
        return response.headers["Content-Location"]

    def wait(self, status_url: str) -> dict[str, Any]:
        """Poll until complete; returns the manifest (pages merged).

        Raises :class:`JobFailedError` when the job ended in an error and :class:`ExportExpiredError` when the
        server no longer knows it. Ctrl-C cancels the job (DELETE) and re-raises.
        """
        started = time.monotonic()
        delay = self.policy.initial_delay_s
        try:
            while True:
                response = self._request("GET", status_url)
                if response.status_code == 200:
                    return self._full_manifest(response.json())
                if response.status_code in GONE:
                    raise ExportExpiredError(
                        f"the server no longer knows export {_safe(status_url)} "
                        f"(HTTP {response.status_code}): {response_reason(response)}"
                    )
                if response.status_code != 202:
                    raise JobFailedError(
                        f"export job failed (HTTP {response.status_code}): {response_reason(response)}"
                    )
                progress = response.headers.get("X-Progress")
                wait = self._server_wait(response)
                if wait is None:  # Azure sends none: our own exponential back-off
                    wait, delay = delay, min(delay * 2, self.policy.max_delay_s)
                self.progress(
                    f"export in progress{': ' + progress if progress else ''}; next check in {wait:.1f}s"
                )
                if time.monotonic() - started + wait > self.policy.max_wait_s:
                    raise ExportError(f"export did not complete within {self.policy.max_wait_s:.0f}s")
                self.policy.sleep(wait)
        except KeyboardInterrupt:
            self.cancel(status_url)
            raise

    def cancel(self, status_url: str) -> None:
        """Ask the server to cancel the job and delete its files."""
        try:
            self.session.delete(status_url, headers=self._headers({}, True), timeout=30)
            self.progress("export cancelled (DELETE sent)")
        except (requests.RequestException, ExportError):
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
            if len(pages) > 10_000:
                raise ExportError("the manifest pages do not end (more than 10000 rel=next links)")
            response = self._request("GET", nxt)
            if response.status_code != 200:
                raise ExportError(
                    f"manifest page failed (HTTP {response.status_code}): {response_reason(response)}"
                )
            pages.append(response.json())
        merged = dict(pages[0])
        for key in ("output", "deleted", "error"):
            merged[key] = [item for page in pages for item in page.get(key, [])]
        merged.pop("link", None)
        return merged

    def download(self, url: str, requires_token: bool) -> Iterator[bytes]:
        """Stream one file, resuming with Range after a dropped connection; gzip is decoded.

        Raises :class:`ExportExpiredError` when the server says the file is gone (404/410).
        """
        received = 0
        decoder: Any = None
        for _attempt in range(self.policy.max_retries + 1):
            headers = {"Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"}
            if received:
                headers["Range"] = f"bytes={received}-"
            response = self._request("GET", url, stream=True, headers=headers, with_token=requires_token)
            if response.status_code in GONE:
                raise ExportExpiredError(
                    f"download of {_safe(url)}: the file is gone (HTTP {response.status_code}): "
                    f"{response_reason(response)}"
                )
            if response.status_code not in (200, 206):
                raise ExportError(
                    f"download of {_safe(url)} failed (HTTP {response.status_code}): {response_reason(response)}"
                )
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


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as the seconds to wait from ``now``: delta-seconds, an HTTP-date, or a Unix time
    (seconds or milliseconds; some servers send one although the header wants a delay)."""
    if not value:
        return None
    value = value.strip()
    now = time.time() if now is None else now
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number < 0:  # NaN or negative: meaningless
            return None
        if number >= EPOCH_THRESHOLD_S:
            epoch = number / 1000 if number >= EPOCH_THRESHOLD_S * 1000 else number
            return max(0.0, epoch - now)
        return number
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def _retryable(response: requests.Response) -> bool:
    """429, 502-504 always; a 500 unless its OperationOutcome says the failure is not ``transient`` (a job or
    kick-off that failed for good answers 500 with the reason: retrying it only hides the reason for minutes)."""
    if response.status_code != 500:
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return True
    codes = {issue.get("code") for issue in body.get("issue", []) if isinstance(issue, dict)}
    return not codes or "transient" in codes


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
    if request.allow_partial_manifests:
        if request.azure:
            raise ExportError("the Azure FHIR service does not accept allowPartialManifests")
        params.append(("allowPartialManifests", "true"))
    return params


def _parameter(name: str, value: str) -> dict[str, Any]:
    if value in ("true", "false"):
        return {"name": name, "valueBoolean": value == "true"}
    return {"name": name, "valueString": value}


def _safe(url: str) -> str:
    return url.split("?")[0]
