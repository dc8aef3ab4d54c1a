"""What the landing remembers between runs, under ``<landing>/_state/``.

* ``in_flight/<request key>.json``: an export a run started and has not finished (status URL, export id, files
  landed with their line counts). A re-run with the same arguments finds it and continues.
* ``exports/<since key>.json``: the last complete export per server, level, group and types: ``--since auto``.
* ``last_export.json``: the last export of any kind (informative; partial ones say so).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from anonymizer.export.client import ExportRequest
from anonymizer.storage.landing import LandingTarget

STATE_DIR = "_state"
LAST_EXPORT = f"{STATE_DIR}/last_export.json"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def request_key(request: ExportRequest) -> str:
    """Identity of an export request as given (``since="auto"`` stays ``auto``): same arguments, same key."""
    fields = asdict(request)
    fields["fhir_url"] = request.fhir_url.rstrip("/")
    fields["types"] = sorted(request.types)
    return _digest(fields)


def since_key(request: ExportRequest) -> str:
    """What ``--since auto`` continues from: the same server, level, group and set of types."""
    return _digest(
        [request.fhir_url.rstrip("/"), request.level, request.group_id, sorted(set(request.types))]
    )


@dataclass
class InFlight:
    """An export started by an earlier run and not finished."""

    status_url: str
    export_id: str
    since: str | None
    landed: dict[str, int] = field(default_factory=dict)  # file name -> lines


def in_flight_path(key: str) -> str:
    """Where the in-flight record of a request key lives."""
    return f"{STATE_DIR}/in_flight/{key}.json"


def load_in_flight(landing: LandingTarget, key: str) -> InFlight | None:
    """The in-flight export of this request, if an earlier run left one."""
    path = in_flight_path(key)
    if not landing.exists(path):
        return None
    data = json.loads(landing.read_bytes(path))
    return InFlight(data["status_url"], data["export_id"], data.get("since"), dict(data.get("landed", {})))


def save_in_flight(landing: LandingTarget, key: str, record: InFlight) -> None:
    """Record (or update) the in-flight export."""
    _write_json(landing, in_flight_path(key), asdict(record))


def clear_in_flight(landing: LandingTarget, key: str) -> None:
    """Forget the in-flight export (finished, failed for good, or cancelled)."""
    landing.delete(in_flight_path(key))


def saved_since(landing: LandingTarget, request: ExportRequest) -> str | None:
    """transactionTime of the last complete export with the same server, level, group and types."""
    path = f"{STATE_DIR}/exports/{since_key(request)}.json"
    if not landing.exists(path):
        return None
    return json.loads(landing.read_bytes(path)).get("transactionTime")


def record_finished(
    landing: LandingTarget, request: ExportRequest, record: dict[str, Any], complete: bool
) -> None:
    """Write ``last_export.json`` and, for a complete export with a transactionTime, the ``--since auto`` record."""
    if complete and record.get("transactionTime"):
        _write_json(landing, f"{STATE_DIR}/exports/{since_key(request)}.json", record)
    _write_json(landing, LAST_EXPORT, {**record, "complete": complete})


def _write_json(landing: LandingTarget, name: str, value: object) -> None:
    landing.write_stream(name, [json.dumps(value, indent=2).encode()])
