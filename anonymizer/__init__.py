"""De-identify FHIR resources with Microsoft FHIR anonymizer rule configs; distribute it with Spark.

The engine (:class:`Anonymizer`) is pure Python and usable without Spark::

    from anonymizer import Anonymizer
    anon = Anonymizer.from_config_file("configs/hipaa-safe-harbor.json")
    out = anon.anonymize(resource)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Anonymizer",
    "AnonymizerError",
    "ConfigError",
    "InvalidInputError",
    "ProcessingError",
]

__version__ = "0.1.0"

_LAZY = {
    "Anonymizer": "anonymizer.engine",
    "AnonymizerError": "anonymizer.errors",
    "ConfigError": "anonymizer.errors",
    "InvalidInputError": "anonymizer.errors",
    "ProcessingError": "anonymizer.errors",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import anonymizer` (e.g. for --help) stays cheap.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'anonymizer' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
