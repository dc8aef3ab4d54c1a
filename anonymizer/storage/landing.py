"""Where exported files land. Writes stream and become visible only when complete (no half-landed files).

A local file is written as ``.<name>.partial`` (hidden: Spark and Hadoop skip names starting with a dot) and
renamed when complete; a blob's blocks are staged and committed at the end, so it exists only complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol


class LandingTarget(Protocol):
    """A folder-like place files are written to (local folder, Blob/ADLS container prefix)."""

    def uri(self, name: str) -> str:
        """Address of ``name`` for Spark (local path or ``abfss://``/``wasbs://`` URI)."""

    def exists(self, name: str) -> bool:
        """True when a complete file ``name`` is there."""

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> int:
        """Write the chunks as ``name`` atomically; returns bytes written."""

    def read_bytes(self, name: str) -> bytes:
        """Read a (small) file."""

    def list(self, prefix: str = "") -> list[str]:
        """Names below ``prefix``."""

    def delete(self, name: str) -> None:
        """Remove ``name`` if it exists."""

    def delete_folder(self, prefix: str) -> None:
        """Remove everything below ``prefix`` (and the folder itself where folders exist)."""

    def remove_if_empty(self, prefix: str) -> None:
        """Remove the folder ``prefix`` when it holds no file (no-op where empty folders cannot exist)."""


class LocalLanding:
    """A local folder; files are written to a temporary name and renamed when complete."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def uri(self, name: str) -> str:
        return str(self.root / name)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> int:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        written = 0
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return written

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def delete_folder(self, prefix: str) -> None:
        import shutil

        shutil.rmtree(self.root / prefix, ignore_errors=True)

    def remove_if_empty(self, prefix: str) -> None:
        folder = self.root / prefix
        if not folder.is_dir():
            return
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(sub.iterdir()):
                sub.rmdir()
        if not any(folder.iterdir()):
            folder.rmdir()


class BlobLanding:
    """An Azure Blob Storage / ADLS Gen2 container (through the Blob API, which works on both).

    Blocks are staged as the download streams and committed at the end, so a blob exists only complete.
    Credentials: a connection string (Azurite, account key) or an account URL with azure-identity's
    ``DefaultAzureCredential``.
    """

    BLOCK_SIZE = 8 * 1024 * 1024

    def __init__(self, container_client: object, prefix: str = "", account_name: str | None = None) -> None:
        self.container = container_client
        self.prefix = prefix.strip("/")
        self.account_name = account_name

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, prefix: str = "", api_version: str | None = None
    ) -> BlobLanding:
        """Build from a connection string (creates the container if missing)."""
        from azure.storage.blob import BlobServiceClient

        service = (
            BlobServiceClient.from_connection_string(connection_string, api_version=api_version)
            if api_version
            else BlobServiceClient.from_connection_string(connection_string)
        )
        client = service.get_container_client(container)
        if not client.exists():
            client.create_container()
        return cls(client, prefix, service.account_name)

    @classmethod
    def from_account_url(cls, account_url: str, container: str, prefix: str = "") -> BlobLanding:
        """Build from ``https://<account>.blob.core.windows.net`` with DefaultAzureCredential."""
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient(account_url, credential=DefaultAzureCredential())
        return cls(service.get_container_client(container), prefix, service.account_name)

    def _blob(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, name: str) -> str:
        container = self.container.container_name  # type: ignore[attr-defined]
        return f"abfss://{container}@{self.account_name}.dfs.core.windows.net/{self._blob(name)}"

    def exists(self, name: str) -> bool:
        return bool(self.container.get_blob_client(self._blob(name)).exists())  # type: ignore[attr-defined]

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> int:
        import base64
        import uuid

        blob = self.container.get_blob_client(self._blob(name))  # type: ignore[attr-defined]
        block_ids: list[str] = []
        written = 0
        for block in _rechunk(chunks, self.BLOCK_SIZE):
            block_id = base64.b64encode(uuid.uuid4().hex.encode()).decode()
            blob.stage_block(block_id, block)
            block_ids.append(block_id)
            written += len(block)
        blob.commit_block_list(block_ids)
        return written

    def read_bytes(self, name: str) -> bytes:
        return self.container.download_blob(self._blob(name)).readall()  # type: ignore[attr-defined]

    def list(self, prefix: str = "") -> list[str]:
        start = self._blob(prefix)
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(b.name[cut:] for b in self.container.list_blobs(name_starts_with=start))  # type: ignore[attr-defined]

    def delete(self, name: str) -> None:
        blob = self.container.get_blob_client(self._blob(name))  # type: ignore[attr-defined]
        if blob.exists():
            blob.delete_blob()

    def delete_folder(self, prefix: str) -> None:
        for name in self.list(prefix.rstrip("/") + "/"):
            self.delete(name)

    def remove_if_empty(self, prefix: str) -> None:
        return  # blob "folders" are name prefixes: an empty one does not exist


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def landing_from_url(
    url: str, *, connection_string: str | None = None, api_version: str | None = None
) -> LandingTarget:
    """A local path, or ``az://<container>/<prefix>`` (Blob/ADLS; connection string or DefaultAzureCredential)."""
    if url.startswith("az://"):
        container, _, prefix = url[len("az://") :].partition("/")
        if connection_string:
            return BlobLanding.from_connection_string(connection_string, container, prefix, api_version)
        account_url = os.environ.get("AZURE_STORAGE_ACCOUNT_URL")
        if not account_url:
            raise ValueError("az:// landing needs --storage-connection-string or AZURE_STORAGE_ACCOUNT_URL")
        return BlobLanding.from_account_url(account_url, container, prefix)
    return LocalLanding(url)
