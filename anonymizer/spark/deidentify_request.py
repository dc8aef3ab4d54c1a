"""``DeidentifyRequest``: what a de-identification run reads, writes and how (no Spark import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from anonymizer.spark.resource_format import DEFAULT_RESOURCE_FORMAT
from anonymizer.spark.transform import DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True)
class DeidentifyRequest:
    """What to de-identify and where to put it.

    Attributes:
        input: landing folder or Hadoop URI with NDJSON (``.ndjson``/``.ndjson.gz``, any names, searched recursively;
            a ``deleted/`` sub-folder holds Bundles of deleted resources).
        output: research zone root (layout: :class:`anonymizer.spark.zone.ResearchZone`).
        config: rules file (Microsoft's format).
        quarantine: where quarantined lines go (PHI); default ``<output>-quarantine``; never inside ``output``.
        as_of: reference date of the "age over 89" rule; default today (UTC).
        allow_ephemeral_keys: random keys for missing ones (demo only).
        allow_weak_test_keys: accept short or repeated keys (Microsoft's test fixtures only).
        keys_from: read the keys from ``<prefix>/crypto-hash-key`` ... (e.g. ``dbsecret:<scope>``), overriding the config.
        mode: ``merge`` (upsert by id, the default) or ``overwrite`` (each written table holds only this run's rows).
        purge_history: with ``overwrite``: then remove every older version's files of the tables written
            (``VACUUM RETAIN 0 HOURS``), so time travel cannot reach a leaky earlier run.
        allow_dead_rules: rules that can never match are warnings, not errors (Microsoft's test configs).
        skip_unreadable_files: quarantine unreadable input files (one record each) and go on, instead of stopping.
        resource_format: ``json`` (a JSON string column every Delta reader opens, the default) or ``variant``.
        ndjson: also write the run's anonymized resources as NDJSON (``ndjson/<Type>/``, what Microsoft's tool
            writes; the default). ``False`` (``--no-ndjson``) skips this second, uncompressed copy of the data
            (about 4x the Delta bytes) and removes the NDJSON of an earlier run, so that folder never holds
            another run's output.
    """

    input: str
    output: str
    config: str
    quarantine: str | None = None
    as_of: date | None = None
    run_id: str | None = None
    allow_ephemeral_keys: bool = False
    allow_weak_test_keys: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    keys_from: str | None = None
    mode: str = "merge"
    purge_history: bool = False
    allow_dead_rules: bool = False
    skip_unreadable_files: bool = False
    resource_format: str = DEFAULT_RESOURCE_FORMAT
    ndjson: bool = True
