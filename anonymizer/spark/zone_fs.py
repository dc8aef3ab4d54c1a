"""Zone files on any path, from the driver or a Spark Connect client, without py4j or SparkContext.

Reads and listings go through Spark (they work on every Hadoop path the cluster can reach, with the cluster's
credentials). Writes of small files, deletions and renames go through ``pyarrow.fs`` on the driver: local
folders, ``file:`` URIs, Databricks ``/Volumes`` and ``dbfs:/`` (the FUSE mounts), ``s3://``, ``gs://`` and
``hdfs://``. Where pyarrow cannot reach a path, a small file is written through Spark instead (a folder with one
part file, which :func:`read_text` reads the same way) and a rename is skipped.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.errors import AnonymizerError

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from pyspark.sql import SparkSession

log = logging.getLogger("anonymizer.spark")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class ZoneFsError(AnonymizerError, OSError):
    """A path the driver cannot reach (the message names the path, never file content)."""


def has_scheme(path: str) -> bool:
    """True for URIs (``file:``, ``abfss://``, ``dbfs:/``), False for plain local paths."""
    return bool(_SCHEME.match(path)) and not re.match(r"^[A-Za-z]:[\\/]", path)  # not a Windows drive


def local_path(path: str) -> Path | None:
    """The local (or FUSE-mounted) file system path of ``path``, or None for a remote URI."""
    if not has_scheme(path):
        return Path(path).absolute()
    if path.startswith("file:"):
        rest = path[len("file:") :]
        rest = rest[2:] if rest.startswith("//") else rest  # file:///x and file:/x
        return Path("/" + rest.lstrip("/"))
    if path.startswith("dbfs:/"):
        rest = "/" + path[len("dbfs:") :].lstrip("/")
        return Path(rest) if rest.startswith("/Volumes/") else Path("/dbfs" + rest)
    return None


def _filesystem(path: str) -> tuple[pafs.FileSystem, str] | None:
    import pyarrow.fs as pafs

    local = local_path(path)
    if local is not None:
        return pafs.LocalFileSystem(), str(local)
    try:
        return pafs.FileSystem.from_uri(path)
    except Exception:  # noqa: BLE001 - pyarrow raises several types for schemes it does not know
        return None


def _is_missing(exc: BaseException) -> bool:
    text = str(exc)
    return any(m in text for m in ("PATH_NOT_FOUND", "Path does not exist", "FileNotFoundException"))


def exists(spark: SparkSession, path: str) -> bool:
    """True when ``path`` (a file or folder) exists: on the local file system for plain paths and ``file:`` URIs,
    else by Spark's own file listing (with the cluster's credentials)."""
    from pyspark.errors import AnalysisException

    if not has_scheme(path) or path.startswith("file:"):
        local = local_path(path)
        return local is not None and local.exists()

    try:
        return bool(spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path).schema)
    except AnalysisException as exc:
        if _is_missing(exc):
            return False
        raise


def read_text(spark: SparkSession, path: str) -> str | None:
    """The text of a small file (or of a folder's one part file), or None when there is none."""
    from pyspark.errors import AnalysisException

    try:
        rows = spark.read.text(path, wholetext=True).collect()
    except AnalysisException as exc:
        if _is_missing(exc):
            return None
        raise
    return rows[0]["value"] if rows else None


def children(spark: SparkSession, path: str) -> dict[str, bool] | None:
    """The entries directly under folder ``path`` (name -> is a folder); None when ``path`` is not a folder.

    Through the driver's file system where it reaches the path, else through Spark's file listing (folders are
    then seen through the files they hold; an empty sub-folder does not show).
    """
    import pyarrow.fs as pafs
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    resolved = _filesystem(path)
    if resolved is not None:
        fs, inner = resolved
        if fs.get_file_info(inner).type != pafs.FileType.Directory:
            return None
        return {
            info.base_name: info.type == pafs.FileType.Directory
            for info in fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True))
        }
    try:
        rows = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(path)
            .select(F.col("path"))
            .collect()
        )
    except AnalysisException as exc:
        if _is_missing(exc):
            return None
        raise
    from urllib.parse import urlparse

    root = urlparse(path).path.rstrip("/")
    out: dict[str, bool] = {}
    for row in rows:
        file_path = urlparse(row["path"]).path  # Spark qualifies paths; compare the path parts only
        if file_path == root:
            return None  # the path is a file
        if not file_path.startswith(root + "/"):
            continue
        rest = file_path[len(root) + 1 :].split("/")
        out[rest[0]] = out.get(rest[0], False) or len(rest) > 1
    return out


def list_delta_tables(spark: SparkSession, root: str) -> list[str]:
    """Names of the sub-folders of ``root`` that are Delta tables (have a ``_delta_log`` with commits)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if not exists(spark, root):  # a glob under a missing folder makes Spark log a stack trace
        return []
    pattern = f"{root.rstrip('/')}/*/_delta_log/*.json"
    try:
        rows = (
            spark.read.format("binaryFile")
            .load(pattern)
            .select(F.regexp_extract("path", r"/([^/]+)/_delta_log/[^/]+$", 1).alias("name"))
            .distinct()
            .collect()
        )
    except AnalysisException as exc:
        if _is_missing(exc):
            return []
        raise
    return sorted(r["name"] for r in rows if r["name"])


def write_text(spark: SparkSession | None, path: str | Path, text: str) -> Path | str:
    """Write a small UTF-8 file (replacing it); returns where it went (a ``Path`` when it is local)."""
    path = str(path)
    resolved = _filesystem(path)
    if resolved is None:
        if spark is None:
            raise ZoneFsError(f"cannot write {path}: no file system for this scheme and no Spark session")
        spark.createDataFrame([(text,)], "value string").coalesce(1).write.mode("overwrite").text(path)
        return path
    fs, inner = resolved
    parent = inner.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(inner) as stream:
        stream.write(text.encode("utf-8"))
    local = local_path(path)
    return local if local is not None else path


def remove_tree(path: str) -> bool:
    """Delete a folder and everything in it; False (and a log line) when the driver cannot reach it."""
    import pyarrow.fs as pafs

    resolved = _filesystem(path)
    if resolved is None:
        log.warning("cannot delete %s from the driver; remove it with the platform's tools", path)
        return False
    fs, inner = resolved
    if fs.get_file_info(inner).type != pafs.FileType.NotFound:
        fs.delete_dir(inner)
    return True


def remove_empty_dir(path: str) -> bool:
    """Delete ``path`` if it is a folder with nothing in it; True when it was removed."""
    import pyarrow.fs as pafs

    resolved = _filesystem(path)
    if resolved is None:
        return False
    fs, inner = resolved
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        return False
    if fs.get_file_info(pafs.FileSelector(inner)):
        return False
    fs.delete_dir(inner)
    return True


def rename_part_files(folder: str, old_suffix: str, new_suffix: str) -> bool:
    """Rename ``part-*<old_suffix>`` in ``folder`` to ``*<new_suffix>``; False when the folder is unreachable."""
    import pyarrow.fs as pafs

    resolved = _filesystem(folder)
    if resolved is None:
        return False
    fs, inner = resolved
    for info in fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True)):
        if info.base_name.startswith("part-") and info.base_name.endswith(old_suffix):
            fs.move(info.path, info.path[: -len(old_suffix)] + new_suffix)
    return True


def read_local_bytes(path: str) -> bytes:
    """Bytes of a driver-side file (a config): local path, ``file:``, ``/Volumes``, ``dbfs:/`` or pyarrow URI."""
    resolved = _filesystem(path)
    if resolved is None:
        raise ZoneFsError(f"cannot read {path} from the driver")
    fs, inner = resolved
    with fs.open_input_stream(inner) as stream:
        return stream.read()


def absolute(path: str) -> str:
    """``path`` unchanged when it is a URI, else made absolute (Spark resolves relative paths on the server)."""
    return path if has_scheme(path) else os.path.abspath(path)
