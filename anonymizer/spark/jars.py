"""Resolve the Delta Lake JARs once from Maven Central and cache them for offline runs.

``fhir-anonymizer setup`` (and ``make setup``) call :func:`ensure_delta_jars`. It lets Spark's own Ivy
resolution fetch the Delta artifact of the installed Spark/Delta pair
(:func:`anonymizer.spark.settings.delta_artifact`) and its dependencies into a cache folder, then records
the JAR paths in a small manifest. Later sessions put those files on ``spark.jars`` and never touch the
network. A failure is one :class:`JarResolutionError` that says what really failed (no Java, repository
unreachable, or no such artifact) and what to do, instead of a Java stack trace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from anonymizer.errors import AnonymizerError
from anonymizer.spark.settings import delta_maven_coordinates

#: Environment variable naming a folder of JARs to use instead of resolving (offline machines).
JARS_DIR_ENV = "FHIR_ANONYMIZER_JARS_DIR"
#: Environment variable overriding the cache folder.
CACHE_ENV = "FHIR_ANONYMIZER_CACHE"

_RESOLVE_TIMEOUT_S = 600


class JarResolutionError(AnonymizerError, RuntimeError):
    """The Delta JARs could not be resolved; the message says how to fix it."""


def cache_dir() -> Path:
    """Folder holding the Ivy cache and the JAR manifest (``~/.cache/fhir-anonymizer`` by default)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "fhir-anonymizer")
    return Path(base)


def _manifest_path(coordinates: str) -> Path:
    safe = coordinates.replace(":", "_")
    return cache_dir() / f"jars-{safe}.txt"


def cached_delta_jars() -> list[Path] | None:
    """The cached JAR files for the installed Delta version, or ``None`` when not resolved yet."""
    override = os.environ.get(JARS_DIR_ENV)
    if override:
        jars = sorted(Path(override).glob("*.jar"))
        if not jars:
            raise JarResolutionError(f"{JARS_DIR_ENV}={override} contains no .jar files.")
        return jars
    manifest = _manifest_path(delta_maven_coordinates())
    if not manifest.is_file():
        return None
    jars = [Path(line) for line in manifest.read_text().splitlines() if line.strip()]
    return jars if jars and all(j.is_file() for j in jars) else None


def _ivy_dir(coordinates: str) -> Path:
    # One Ivy home per coordinate set: Spark copies every JAR it resolved into <ivy>/jars, so a shared
    # folder would mix the JARs of two Delta versions in one manifest.
    return cache_dir() / "ivy" / coordinates.replace(":", "_")


def ensure_delta_jars(*, quiet: bool = False, coordinates: str | None = None) -> list[Path]:
    """Return the Delta JARs (of the installed pair, or of ``coordinates``), resolving them from Maven Central
    into the cache on first use."""
    if coordinates is None:
        jars = cached_delta_jars()
        if jars:
            return jars
        coordinates = delta_maven_coordinates()
    if not _java_available():
        raise JarResolutionError(_no_java_message())
    ivy_dir = _ivy_dir(coordinates)
    ivy_dir.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"Resolving {coordinates} from Maven Central into {ivy_dir} (once) ...", file=sys.stderr)
    # A throw-away local session performs Spark's standard Ivy resolution; running it in a
    # subprocess keeps the JVM's error output away from the user unless it fails.
    script = (
        "from pyspark.sql import SparkSession\n"
        f"s = SparkSession.builder.master('local[1]').config('spark.jars.packages', {coordinates!r})"
        f".config('spark.jars.ivy', {str(ivy_dir)!r}).config('spark.ui.enabled', 'false').getOrCreate()\n"
        "s.stop()\n"
    )
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=_RESOLVE_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise JarResolutionError(_unreachable_message(coordinates, "timed out")) from None
    resolved = sorted((ivy_dir / "jars").glob("*.jar"))
    if proc.returncode != 0 or not resolved:
        raise JarResolutionError(failure_message(coordinates, proc.stderr + proc.stdout))
    manifest = _manifest_path(coordinates)
    manifest.write_text("\n".join(str(j) for j in resolved) + "\n")
    return resolved


def _java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").is_file():
        return True
    return shutil.which("java") is not None


#: What Ivy and the JVM print when the repository could not be reached at all.
_UNREACHABLE_MARKERS = (
    "UnknownHostException",
    "ConnectException",
    "Connection refused",
    "connect timed out",
    "Read timed out",
    "SSLHandshakeException",
    "Network is unreachable",
    "NoRouteToHostException",
)
#: What Ivy prints when the repository answered but has no such artifact.
_NOT_FOUND_MARKERS = ("module not found", "unresolved dependency", ": not found")
_NO_JAVA_MARKERS = ("JAVA_HOME is not set", "java: not found", "No such file or directory: 'java'")


def classify_failure(output: str) -> tuple[str, str]:
    """``(kind, evidence line)`` of a failed resolution; kind is ``no_java``, ``unreachable``,
    ``artifact_not_found`` or ``unknown``. Unreachable wins: Ivy then also reports the module as not found."""
    lines = output.splitlines()
    for kind, markers in (
        ("no_java", _NO_JAVA_MARKERS),
        ("unreachable", _UNREACHABLE_MARKERS),
        ("artifact_not_found", _NOT_FOUND_MARKERS),
    ):
        for marker in markers:  # in order of how well the line explains the failure
            for line in lines:
                if marker in line:
                    return kind, line.strip()[:300]
    return "unknown", "Spark's dependency resolution failed"


def failure_message(coordinates: str, output: str) -> str:
    """The user-facing message for a failed resolution, naming what really failed."""
    kind, evidence = classify_failure(output)
    if kind == "no_java":
        return _no_java_message()
    if kind == "artifact_not_found":
        return (
            f"Maven Central was reached but has no {coordinates} ({evidence}).\n"
            "The installed pyspark and delta-spark are not a released pair: install a supported pair "
            "(see the README's support matrix, e.g. pip install 'pyspark==3.5.3' 'delta-spark==3.2.1') "
            "and run `fhir-anonymizer setup` again."
        )
    return _unreachable_message(coordinates, evidence)


def _no_java_message() -> str:
    return (
        "Java was not found (no `java` on PATH and no usable JAVA_HOME). Spark needs a JDK 17 "
        "(e.g. apt-get install openjdk-17-jre-headless); install it and run `fhir-anonymizer setup` again."
    )


def _unreachable_message(coordinates: str, reason: str) -> str:
    return (
        f"Could not reach Maven Central to resolve the Delta Lake JARs ({coordinates}): {reason}.\n"
        "Delta tables cannot be written without them. Either allow this machine to reach Maven Central "
        "(https://repo1.maven.org) and run `make setup` again, or download the JARs elsewhere "
        f"(delta-spark and delta-storage of that version) into a folder and set {JARS_DIR_ENV}=/that/folder."
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m anonymizer.spark.jars``: resolve and print the cached JAR paths."""
    try:
        for jar in ensure_delta_jars():
            print(jar)
    except JarResolutionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
