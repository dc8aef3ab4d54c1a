"""A Bulk Data ``$export`` server for tests and the demo, bound to 127.0.0.1 only.

It serves the NDJSON files of a folder (the bundled sample by default) through the Bulk Data kick-off /
status / manifest / download protocol, and can behave like a strict spec server or like Azure's FHIR service
(bare 202 without Retry-After, 400 on unknown parameters, blob-style file names). Faults can be injected:
429 and transient 5xx on status polls, slow responses, dropped connections in the middle of a download,
failed jobs (OperationOutcome), and SMART Backend Services client assertions can be required.

Run it: ``python -m anonymizer.testing.fhir_server --data examples/synthea-10-patients --port 8089``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

#: Parameters the Azure FHIR service accepts on $export (anything else -> 400).
AZURE_PARAMS = frozenset({"_type", "_since", "_till", "_container", "_typeFilter", "_outputFormat", "_anonymizationConfig",
                          "_anonymizationConfigEtag", "_anonymizationConfigCollectionReference", "_isParallel", "_maxCount"})  # fmt: skip
SPEC_PARAMS = frozenset(
    {
        "_type",
        "_since",
        "_typeFilter",
        "_outputFormat",
        "_elements",
        "patient",
        "includeAssociatedData",
        "_until",
    }
)


@dataclass
class Faults:
    """Faults to inject (counts are consumed as they fire)."""

    status_429: int = 0  # first N status polls answer 429
    status_5xx: int = 0  # next N status polls answer 503
    pending_polls: int = 1  # polls answered 202 (in progress) before completion
    retry_after: str | None = "1"  # Retry-After on 202/429 ("1", an HTTP-date via "date:+N", or None)
    drop_download: int = 0  # first N downloads close the connection half-way
    slow_s: float = 0.0  # delay of every response
    fail_job: bool = False  # the job ends in an OperationOutcome (500)


@dataclass
class ServerConfig:
    """Behaviour of the test server."""

    data_dir: Path
    mode: str = "spec"  # "spec" or "azure"
    faults: Faults = field(default_factory=Faults)
    require_token: bool = False
    jwks_public_key_pem: bytes | None = None  # SMART: client assertions are verified with this key
    client_id: str = "demo-client"
    gzip_downloads: bool = False
    page_size: int | None = None  # split the manifest's output into pages linked with rel=next


class _State:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.deleted_jobs: set[str] = set()


class _Handler(BaseHTTPRequestHandler):
    server_version = "fhir-lake-test-server/1"
    state: _State

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

    def _outcome(self, code: int, text: str) -> None:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
        }
        self._send(code, json.dumps(body).encode())

    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _retry_after(self) -> dict[str, str]:
        value = self.state.config.faults.retry_after
        if self.state.config.mode == "azure" or value is None:
            return {}
        if value.startswith("date:+"):
            return {"Retry-After": formatdate(time.time() + float(value[6:]), usegmt=True)}
        return {"Retry-After": value}

    def _authorized(self) -> bool:
        if not self.state.config.require_token:
            return True
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.state.tokens

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
        if url.path == "/.well-known/smart-configuration":
            return self._send(
                200,
                json.dumps({"token_endpoint": self._base() + "/auth/token"}).encode(),
                ctype="application/json",
            )
        if not self._authorized():
            return self._outcome(401, "missing or invalid bearer token")
        if url.path.endswith("$export") and method in ("GET", "POST"):
            return self._kickoff(method, url)
        if url.path.startswith("/jobs/"):
            job_id = url.path.split("/")[2]
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            return self._delete(job_id) if method == "DELETE" else self._status(job_id, page)
        if url.path.startswith("/files/") and method == "GET":
            return self._download(url.path[len("/files/") :])
        return self._outcome(404, "not found")

    def _token(self) -> None:
        import jwt

        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        assertion = (form.get("client_assertion") or [""])[0]
        key = self.state.config.jwks_public_key_pem
        try:
            if key is None:
                raise jwt.InvalidTokenError("no client key registered")
            claims = jwt.decode(
                assertion, key, algorithms=["RS384", "ES384"], audience=self._base() + "/auth/token"
            )
            if (
                claims.get("iss") != self.state.config.client_id
                or claims.get("sub") != self.state.config.client_id
            ):
                raise jwt.InvalidTokenError("iss/sub mismatch")
        except jwt.PyJWTError:
            return self._send(401, json.dumps({"error": "invalid_client"}).encode(), ctype="application/json")
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
                params.setdefault(p["name"], []).append(str(value))
        allowed = AZURE_PARAMS if cfg.mode == "azure" else SPEC_PARAMS
        unknown = sorted(set(params) - allowed)
        if unknown:
            return self._outcome(400, f"unsupported parameter {unknown[0]}")
        if cfg.mode != "azure" and self.headers.get("Prefer") != "respond-async":
            return self._outcome(400, "Prefer: respond-async is required")
        types = set(",".join(params.get("_type", [])).split(",")) - {""}
        job_id = uuid.uuid4().hex[:12]
        with self.state.lock:
            self.state.jobs[job_id] = {
                "polls": 0,
                "types": types,
                "request": self.path,
                "container": params.get("_container", [None])[0],
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
        if page > 1:
            return self._manifest(job, job_id, page)
        with self.state.lock:
            if faults.status_429 > 0:
                faults.status_429 -= 1
                return self._send(429, headers=self._retry_after())
            if faults.status_5xx > 0:
                faults.status_5xx -= 1
                return self._outcome(503, "temporarily unavailable")
            job["polls"] += 1
            polls = job["polls"]
        if polls <= faults.pending_polls:
            progress = {"X-Progress": f"{int(100 * polls / (faults.pending_polls + 1))}% done"}
            return self._send(202, headers={**self._retry_after(), **progress})
        if faults.fail_job:
            return self._outcome(500, "export job failed")
        return self._manifest(job, job_id, 1)

    def _manifest(self, job: dict[str, Any], job_id: str, page: int) -> None:
        cfg = self.state.config
        output = []
        for path in self._files(job["types"]):
            resource_type = path.name.split(".")[0]
            name = f"{resource_type}-{job_id}-1.ndjson" if cfg.mode == "azure" else path.name
            count = sum(1 for line in path.read_bytes().splitlines() if line.strip())
            output.append(
                {"type": resource_type, "url": f"{self._base()}/files/{path.name}?as={name}", "count": count}
            )
        manifest = {
            "transactionTime": "2026-11-28T00:00:00Z",
            "request": f"{self._base()}{job['request']}",
            "requiresAccessToken": cfg.require_token,
            "output": output,
            "deleted": [],
            "error": [],
        }
        if cfg.page_size:
            start = (page - 1) * cfg.page_size
            manifest["output"] = output[start : start + cfg.page_size]
            if start + cfg.page_size < len(output):
                manifest["link"] = [
                    {"relation": "next", "url": f"{self._base()}/jobs/{job_id}?page={page + 1}"}
                ]
        self._send(200, json.dumps(manifest).encode(), ctype="application/json")

    def _delete(self, job_id: str) -> None:
        self.state.deleted_jobs.add(job_id)
        self._send(202)

    def _download(self, name: str) -> None:
        faults = self.state.config.faults
        path = self.state.config.data_dir / name.split("?")[0]
        if not path.is_file() or path.parent != self.state.config.data_dir:
            return self._outcome(404, "no such file")
        data = path.read_bytes()
        start = 0
        range_header = self.headers.get("Range", "")
        if range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
        with self.state.lock:
            drop = faults.drop_download > 0
            if drop:
                faults.drop_download -= 1
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


class BulkDataTestServer:
    """Context manager running the server on 127.0.0.1 in a background thread."""

    def __init__(self, config: ServerConfig, port: int = 0) -> None:
        self.state = _State(config)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """FHIR base URL of the server."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/fhir"

    @property
    def token_url(self) -> str:
        """Token endpoint for SMART Backend Services."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/auth/token"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Requests received (method, path), for assertions."""
        return list(self.state.requests)

    def __enter__(self) -> BulkDataTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    """Serve a folder until interrupted."""
    parser = argparse.ArgumentParser(description="Bulk Data $export test server (127.0.0.1 only)")
    parser.add_argument("--data", required=True, type=Path, help="folder of <Type>.*.ndjson files")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--mode", choices=("spec", "azure"), default="spec")
    args = parser.parse_args(argv)
    with BulkDataTestServer(
        ServerConfig(data_dir=args.data.resolve(), mode=args.mode), port=args.port
    ) as server:
        print(f"serving {args.data} at {server.base_url} (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
