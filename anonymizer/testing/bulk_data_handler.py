"""Request handling of the Bulk Data test server (:mod:`anonymizer.testing.fhir_server`).

``BulkDataHandler`` routes each request (SMART token, kick-off, status poll, manifest, error file, delete,
download), applies the injected faults and records what clients sent in the shared ``ServerState``.
"""

from __future__ import annotations

import gzip
import json
import socketserver
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from anonymizer.testing.server_config import AZURE_PARAMS, SPEC_PARAMS, Faults, ServerConfig
from anonymizer.testing.smart_token import AssertionRefused, verify_assertion

#: Headers whose value a retry must repeat exactly (Authorization may change: a fresh token; Range may grow).
_SAME_VALUE = ("Prefer", "Accept", "Accept-Encoding", "Content-Type")
_TRANSPORT = frozenset({"host", "content-length", "connection", "user-agent"})
_STALL_LIMIT_S = 60.0


class ServerState:
    """What the server has seen and holds: jobs, tokens, requests, recorded violations, the stall switch."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.kickoffs: list[dict[str, list[str]]] = []
        self.deleted_jobs: set[str] = set()
        self.expired_jobs: set[str] = set()
        self.first_headers: dict[tuple[str, str], dict[str, str]] = {}
        self.header_violations: list[str] = []
        self.not_before: dict[str, float] = {}
        self.early_polls: list[str] = []
        self.downloads_served = 0
        self.stalled = 0
        self.release = threading.Event()


class BulkDataHandler(BaseHTTPRequestHandler):
    """The Bulk Data protocol: token, kick-off, status, manifest, error file, delete and download routes."""

    server_version = "fhir-lake-test-server/1"
    state: ServerState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access logs
        return

    # -- helpers -------------------------------------------------------------------------------------
    def _send(
        self,
        code: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        ctype: str = "application/fhir+json",
    ) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or code not in (202, 204):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _outcome(
        self, code: int, text: str, headers: dict[str, str] | None = None, issue: str = "processing"
    ) -> None:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": issue, "diagnostics": text}],
        }
        self._send(code, json.dumps(body).encode(), headers)

    def _base(self) -> str:
        return origin(self.server)

    def _retry_after(self, key: str) -> dict[str, str]:
        value = self.state.config.faults.retry_after
        if self.state.config.mode == "azure" or value is None:
            return {}
        if value.startswith("date:+"):
            at = time.time() + float(value[6:])
            header = formatdate(at, usegmt=True)
            at = float(int(at))  # an HTTP-date has whole seconds
        elif value.startswith("epoch:+"):
            at = float(int(time.time() + float(value[7:])))
            header = str(int(at))
        else:
            at, header = time.time() + float(value), value
        with self.state.lock:
            self.state.not_before[key] = at
        return {"Retry-After": header}

    def _check_not_early(self, key: str) -> None:
        with self.state.lock:
            at = self.state.not_before.pop(key, None)
            if at is not None and time.time() < at - 0.05:
                self.state.early_polls.append(f"{key}: {at - time.time():.2f}s before Retry-After")

    def _authorized(self) -> bool:
        if not self.state.config.require_token:
            return True
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.state.tokens

    def _headers_repeated(self, method: str) -> bool:
        """Every request to the same URL must send at least the headers (and values) of the first one."""
        sent = {k: v for k, v in self.headers.items() if k.lower() not in _TRANSPORT}
        key = (method, self.path)
        with self.state.lock:
            first = self.state.first_headers.setdefault(key, sent)
            lowered = {k.lower(): v for k, v in sent.items()}
            missing = [k for k in first if k.lower() not in lowered]
            changed = [k for k in _SAME_VALUE if k in first and lowered.get(k.lower(), first[k]) != first[k]]
            if missing or changed:
                self.state.header_violations.append(
                    f"{method} {urlparse(self.path).path}: missing {missing}, changed {changed}"
                )
                return False
        return True

    @staticmethod
    def _take(faults: Faults, name: str) -> bool:
        """Consume one injected fault named ``name`` (a counter on ``faults``); True when it fires."""
        left = getattr(faults, name)
        if left > 0:
            setattr(faults, name, left - 1)
            return True
        return False

    # -- routes ---------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _route(self, method: str) -> None:
        cfg = self.state.config
        if cfg.faults.slow_s:
            time.sleep(cfg.faults.slow_s)
        url = urlparse(self.path)
        with self.state.lock:
            self.state.requests.append((method, url.path))
        if url.path == "/auth/token" and method == "POST":
            return self._token()
        if url.path.endswith("/.well-known/smart-configuration"):
            return self._send(
                200,
                json.dumps({"token_endpoint": self._base() + "/auth/token"}).encode(),
                ctype="application/json",
            )
        if not self._headers_repeated(method):
            return self._outcome(400, "a retried request lost headers the first attempt sent")
        if not self._authorized():
            return self._outcome(401, "missing or invalid bearer token")
        if cfg.require_token:
            with self.state.lock:
                revoked = self._take(cfg.faults, "token_401")
            if revoked:
                self.state.tokens.discard(self.headers.get("Authorization", "")[7:])
                return self._outcome(401, "the access token was revoked")
        if url.path.endswith("$export") and method in ("GET", "POST"):
            return self._kickoff(method, url)
        if url.path.startswith("/jobs/"):
            job_id = url.path.split("/")[2]
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            return self._delete(job_id) if method == "DELETE" else self._status(job_id, page)
        if url.path.startswith("/errors/") and method == "GET":
            return self._error_file(url.path[len("/errors/") :])
        if url.path.startswith("/files/") and method == "GET":
            return self._download(url.path[len("/files/") :], parse_qs(url.query).get("job", [""])[0])
        return self._outcome(404, "not found")

    def _token(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        assertion = (form.get("client_assertion") or [""])[0]
        try:
            verify_assertion(assertion, self.state.config, self._base() + "/auth/token")
        except AssertionRefused as exc:
            body: dict[str, object] = {"error": "invalid_client", "error_description": str(exc)}
            return self._send(401, json.dumps(body).encode(), ctype="application/json")
        token = uuid.uuid4().hex
        self.state.tokens.add(token)
        body = {"access_token": token, "token_type": "bearer", "expires_in": 300, "scope": "system/*.read"}
        self._send(200, json.dumps(body).encode(), ctype="application/json")

    def _kickoff(self, method: str, url: Any) -> None:
        cfg = self.state.config
        params = {k: v for k, v in parse_qs(url.query).items()}
        if method == "POST":
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            for p in body.get("parameter", []):
                value = next((v for k, v in p.items() if k.startswith("value")), None)
                params.setdefault(p["name"], []).append(
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        with self.state.lock:
            drop = self._take(cfg.faults, "kickoff_drop")
            unavailable = not drop and self._take(cfg.faults, "kickoff_5xx")
        if drop:
            self.close_connection = True
            return
        if unavailable:
            return self._outcome(503, "temporarily unavailable", {"Retry-After": "0"})
        allowed = AZURE_PARAMS if cfg.mode == "azure" else SPEC_PARAMS
        unknown = sorted(set(params) - allowed)
        if unknown:
            return self._outcome(400, f"unsupported parameter {unknown[0]}")
        if cfg.mode != "azure" and self.headers.get("Prefer") != "respond-async":
            return self._outcome(400, "The Prefer header must be respond-async")
        types = set(",".join(params.get("_type", [])).split(",")) - {""}
        job_id = uuid.uuid4().hex[:12]
        now = datetime.now(UTC)
        with self.state.lock:
            self.state.kickoffs.append(params)
            self.state.jobs[job_id] = {
                "transaction_time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "polls": 0,
                "types": types,
                "request": self.path,
                "container": params.get("_container", [None])[0],
                "partial_manifests": params.get("allowPartialManifests", ["false"])[0] == "true",
            }
        self._send(202, headers={"Content-Location": f"{self._base()}/jobs/{job_id}"})

    def _files(self, types: set[str]) -> list[Path]:
        files = sorted(p for p in self.state.config.data_dir.glob("*.ndjson"))
        return [p for p in files if not types or p.name.split(".")[0] in types]

    def _status(self, job_id: str, page: int = 1) -> None:
        faults = self.state.config.faults
        job = self.state.jobs.get(job_id)
        if job is None or job_id in self.state.deleted_jobs:
            return self._outcome(404, "unknown job")
        if job_id in self.state.expired_jobs:
            return self._outcome(404, "the export has expired")
        if page > 1:
            return self._manifest(job, job_id, page)
        self._check_not_early(job_id)
        with self.state.lock:
            if self._take(faults, "status_429"):
                throttled = True
            elif self._take(faults, "status_5xx"):
                # Like the SMART reference server: a 500 whose OperationOutcome says the error is transient.
                return self._outcome(500, "An unknown error occurred (transient_error)", issue="transient")
            else:
                throttled = False
                job["polls"] += 1
            polls = job["polls"]
        if throttled:
            return self._send(429, headers=self._retry_after(job_id))
        if polls <= faults.pending_polls:
            progress = {"X-Progress": f"{int(100 * polls / (faults.pending_polls + 1))}% done"}
            return self._send(202, headers={**self._retry_after(job_id), **progress})
        if faults.fail_job:
            return self._outcome(500, "export job failed")
        return self._manifest(job, job_id, 1)

    def _manifest(self, job: dict[str, Any], job_id: str, page: int) -> None:
        cfg = self.state.config
        output = []
        failing = cfg.faults.failing_types
        for path in self._files(job["types"]):
            resource_type = path.name.split(".")[0]
            if resource_type in failing:
                continue
            name = f"{resource_type}-{job_id}-1.ndjson" if cfg.mode == "azure" else path.name
            count = sum(1 for line in path.read_bytes().splitlines() if line.strip())
            url = f"{self._base()}/files/{path.name}?as={name}&job={job_id}"
            output.append({"type": resource_type, "url": url, "count": count})
        errors = []
        if failing:
            # The count of an error entry is the number of resources that failed, not the file's line count.
            failed = sum(
                sum(1 for line in p.read_bytes().splitlines() if line.strip())
                for p in self._files(set(failing))
            )
            errors.append(
                {"type": "OperationOutcome", "url": f"{self._base()}/errors/{job_id}", "count": failed}
            )
        manifest = {
            "transactionTime": job["transaction_time"],
            "request": f"{self._base()}{job['request']}",
            "requiresAccessToken": cfg.require_token,
            "output": output,
            "deleted": [],
            "error": errors,
        }
        size = cfg.partial_manifest_size if job["partial_manifests"] else cfg.page_size
        if size:
            start = (page - 1) * size
            manifest["output"] = output[start : start + size]
            if start + size < len(output):
                manifest["link"] = [
                    {"relation": "next", "url": f"{self._base()}/jobs/{job_id}?page={page + 1}"}
                ]
        self._send(200, json.dumps(manifest).encode(), ctype="application/json")

    def _error_file(self, job_id: str) -> None:
        lines = [
            json.dumps(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "exception", "diagnostics": f"{t}: {reason}"}],
                }
            )
            for t, reason in sorted(self.state.config.faults.failing_types.items())
        ]
        self._send(200, ("\n".join(lines) + "\n").encode(), ctype="application/fhir+ndjson")

    def _delete(self, job_id: str) -> None:
        self.state.deleted_jobs.add(job_id)
        self._send(202)

    def _stall_if_asked(self) -> None:
        faults = self.state.config.faults
        with self.state.lock:
            stall = (
                faults.stall_after_files is not None
                and self.state.downloads_served >= faults.stall_after_files
            )
            if stall:
                self.state.stalled += 1
        if stall:
            self.state.release.wait(_STALL_LIMIT_S)

    def _download(self, name: str, job_id: str) -> None:
        faults = self.state.config.faults
        path = self.state.config.data_dir / name
        if not path.is_file() or path.parent != self.state.config.data_dir:
            return self._outcome(404, "no such file")
        if job_id in self.state.expired_jobs or job_id in self.state.deleted_jobs:
            return self._outcome(404, "the file has expired")
        self._stall_if_asked()
        data = path.read_bytes()
        start = 0
        range_header = self.headers.get("Range", "")
        if range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
        with self.state.lock:
            if self._take(faults, "download_5xx"):
                return self._outcome(503, "temporarily unavailable", {"Retry-After": "0"})
            drop = self._take(faults, "drop_download")
            if not drop:
                self.state.downloads_served += 1
        if (
            self.state.config.gzip_downloads
            and start == 0
            and "gzip" in self.headers.get("Accept-Encoding", "")
        ):
            body = gzip.compress(data)
            return self._send(
                200, body, headers={"Content-Encoding": "gzip"}, ctype="application/fhir+ndjson"
            )
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/fhir+ndjson")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


def origin(server: socketserver.BaseServer) -> str:
    """``http://127.0.0.1:<port>`` of a bound server."""
    address = server.server_address
    assert isinstance(address, tuple)  # an IPv4 (host, port) pair: the server binds 127.0.0.1 only
    return f"http://{address[0]}:{address[1]}"
