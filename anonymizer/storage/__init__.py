"""Landing targets for exported NDJSON: a local folder or an Azure Blob / ADLS container."""

from __future__ import annotations

from anonymizer.storage.landing import BlobLanding, LandingTarget, LocalLanding, landing_from_url

__all__ = ["BlobLanding", "LandingTarget", "LocalLanding", "landing_from_url"]
