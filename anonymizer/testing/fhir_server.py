"""A Bulk Data ``$export`` server for tests and the demo, bound to 127.0.0.1 only.

It serves the NDJSON files of a folder (the bundled sample by default) through the Bulk Data kick-off /
status / manifest / download protocol, and can behave like a strict spec server or like Azure's FHIR service
(bare 202 without Retry-After, 400 on unknown parameters, blob-style file names). Faults can be injected
(:class:`~anonymizer.testing.server_config.Faults`): 429/5xx on kick-off, polls and downloads, Retry-After as a
delay, an HTTP-date or a Unix time, slow responses, dropped connections, failed jobs, error files for some types,
revoked tokens, expired exports, paged manifests, downloads that stall until released (to interrupt a client).

Like a strict server it checks what clients send: a retried request that lacks a header its first attempt sent
is refused (400) and recorded in ``header_violations``; a poll sooner than the Retry-After asked is recorded in
``early_polls``; SMART client assertions are verified (``kid``, RS384/ES384, ``jku``).

Run it: ``python -m anonymizer.testing.fhir_server --data examples/synthea-10-patients --port 8089``.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from anonymizer.testing.bulk_data_handler import BulkDataHandler, ServerState, origin
from anonymizer.testing.server_config import Faults, ServerConfig

__all__ = ["BulkDataTestServer", "Faults", "ServerConfig"]


class BulkDataTestServer:
    """Context manager running the server on 127.0.0.1 in a background thread."""

    def __init__(self, config: ServerConfig, port: int = 0) -> None:
        self.state = ServerState(config)
        handler = type("Handler", (BulkDataHandler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """FHIR base URL of the server."""
        return f"{origin(self.httpd)}/fhir"

    @property
    def token_url(self) -> str:
        """Token endpoint for SMART Backend Services."""
        return f"{origin(self.httpd)}/auth/token"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Requests received (method, path), for assertions."""
        return list(self.state.requests)

    @property
    def kickoffs(self) -> list[dict[str, list[str]]]:
        """Parameters of every accepted kick-off (query or Parameters body), for assertions."""
        return list(self.state.kickoffs)

    @property
    def header_violations(self) -> list[str]:
        """Retries that sent fewer headers (or other values) than their first attempt."""
        return list(self.state.header_violations)

    @property
    def early_polls(self) -> list[str]:
        """Status polls that came sooner than the Retry-After the server asked."""
        return list(self.state.early_polls)

    def stalled_downloads(self) -> int:
        """Downloads waiting for :meth:`release` (``Faults.stall_after_files``)."""
        return self.state.stalled

    def release(self) -> None:
        """Stop stalling: waiting downloads and later ones are served."""
        self.state.config.faults.stall_after_files = None
        self.state.release.set()

    def expire_jobs(self) -> None:
        """Every export so far expires: its status URL and files answer 404 from now on."""
        with self.state.lock:
            self.state.expired_jobs.update(self.state.jobs)

    def __enter__(self) -> BulkDataTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.release.set()
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
