"""The Parquet archive on a local folder (S3 is the same pyarrow.fs interface; issue 7 tests it on moto)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from workloads.archive import Archive
from workloads.resources import ResourcesSource
from workloads.settings import PacksSettings

PART = "tweets/date=2026-12-01/hour=03/woeid=23424977/part.parquet"


def test_a_table_written_reads_back_and_a_rewrite_replaces_it(tmp_path: Path):
    archive = Archive.from_uri(str(tmp_path / "archive"))
    archive.write_parquet(PART, pa.table({"id": [1, 2], "text": ["a", "b"]}))
    archive.write_parquet(PART, pa.table({"id": [3], "text": ["c"]}))  # a re-run of the same hour
    assert archive.read_parquet(PART).to_pylist() == [{"id": 3, "text": "c"}]
    assert archive.list() == [PART]  # one file, no temporary left behind
    assert archive.list("tweets/date=2026-12-01") == [PART]


@pytest.mark.parametrize("relative", ["", "../escape.parquet", "a/../../b.parquet", "/"])
def test_paths_must_stay_below_the_root(tmp_path: Path, relative: str):
    with pytest.raises(ValueError, match="below the archive's root"):
        Archive.from_uri(str(tmp_path)).path(relative)


def test_an_unknown_scheme_names_the_setting():
    with pytest.raises(ValueError, match=r"packs\.archive"):
        Archive.from_uri("nosuchfs://bucket/prefix")


def test_a_relative_archive_folder_reaches_workers_as_an_absolute_one(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = ResourcesSource.from_settings(PacksSettings(archive="runs/archive")).settings()
    assert shipped.archive == str(tmp_path / "runs" / "archive")
    assert ResourcesSource.from_settings(PacksSettings(archive="s3://bucket/x")).settings().archive == "s3://bucket/x"
