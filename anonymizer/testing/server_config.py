"""Behaviour and injected faults of the built-in Bulk Data test server (:mod:`anonymizer.testing.fhir_server`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
        "allowPartialManifests",
    }
)


@dataclass
class Faults:
    """Faults to inject (counts are consumed as they fire).

    ``retry_after`` is the Retry-After of 202/429 answers: delta-seconds (``"1"``), an HTTP-date N seconds ahead
    (``"date:+N"``), a Unix time N seconds ahead (``"epoch:+N"``, as some servers send), or ``None``.
    """

    status_429: int = 0  # first N status polls answer 429
    status_5xx: int = 0  # next N status polls answer 500 with a transient OperationOutcome
    kickoff_5xx: int = 0  # first N kick-offs answer 503
    kickoff_drop: int = 0  # first N kick-offs close the connection without an answer
    download_5xx: int = 0  # first N downloads answer 503
    token_401: int = 0  # first N authorized FHIR requests answer 401 (the token was revoked)
    pending_polls: int = 1  # polls answered 202 (in progress) before completion
    retry_after: str | None = "1"
    drop_download: int = 0  # first N downloads close the connection half-way
    slow_s: float = 0.0  # delay of every response
    fail_job: bool = False  # the job ends in an OperationOutcome (500)
    failing_types: dict[str, str] = field(
        default_factory=dict
    )  # type -> reason: no output, an error file instead
    stall_after_files: int | None = None  # downloads after the first N wait until ``release()`` (or 60 s)


@dataclass
class ServerConfig:
    """Behaviour of the test server.

    SMART: ``jwks_public_key_pem`` verifies assertions whatever their ``kid``; ``client_keys`` (kid -> public PEM)
    with ``require_kid`` behaves like the SMART reference server (an assertion without ``kid`` is refused).
    ``allowed_jku``: an assertion's ``jku`` header must name this URL.
    """

    data_dir: Path
    mode: str = "spec"  # "spec" or "azure"
    faults: Faults = field(default_factory=Faults)
    require_token: bool = False
    jwks_public_key_pem: bytes | None = None
    client_keys: dict[str, bytes] = field(default_factory=dict)
    require_kid: bool = False
    allowed_jku: str | None = None
    client_id: str = "demo-client"
    gzip_downloads: bool = False
    page_size: int | None = None  # split the manifest's output into pages linked with rel=next
    partial_manifest_size: int | None = None  # the same, only when the kick-off asked allowPartialManifests
