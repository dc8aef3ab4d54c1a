"""Zone file paths: which are local (or FUSE-mounted), and small files written and read back through them."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.spark import zone_fs


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("/data/zone", "/data/zone"),
        ("file:///data/zone", "/data/zone"),
        ("file:/data/zone", "/data/zone"),
        ("dbfs:/Volumes/cat/schema/vol/zone", "/Volumes/cat/schema/vol/zone"),
        ("dbfs:/mnt/zone", "/dbfs/mnt/zone"),
        ("/Volumes/cat/schema/vol/zone", "/Volumes/cat/schema/vol/zone"),
        ("abfss://c@account.dfs.core.windows.net/zone", None),
    ],
)
def test_local_paths(path: str, local: str | None) -> None:
    found = zone_fs.local_path(path)
    assert (str(found) if found else None) == local


def test_schemes_are_told_from_plain_paths() -> None:
    assert zone_fs.has_scheme("dbfs:/x") and zone_fs.has_scheme("file:/x") and zone_fs.has_scheme("s3://b/k")
    assert not zone_fs.has_scheme("/x") and not zone_fs.has_scheme("relative/x")


def test_write_text_creates_folders_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.json"
    assert zone_fs.write_text(None, target.as_uri(), "one") == target
    zone_fs.write_text(None, str(target), "two")
    assert target.read_text(encoding="utf-8") == "two"
    assert zone_fs.read_local_bytes(target.as_uri()) == b"two"


def test_rename_part_files_and_remove_tree(tmp_path: Path) -> None:
    folder = tmp_path / "ndjson" / "Patient"
    folder.mkdir(parents=True)
    (folder / "part-00000-x.txt").write_text("{}\n")
    (folder / "_SUCCESS").write_text("")
    assert zone_fs.rename_part_files(str(folder), ".txt", ".ndjson")
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-00000-x.ndjson"]
    assert zone_fs.remove_tree(str(tmp_path / "ndjson")) and not (tmp_path / "ndjson").exists()
    assert zone_fs.remove_tree(str(tmp_path / "missing"))


def test_unreachable_scheme_without_spark_is_an_error() -> None:
    with pytest.raises(zone_fs.ZoneFsError, match="cannot write"):
        zone_fs.write_text(None, "nosuchscheme://bucket/report.json", "x")
