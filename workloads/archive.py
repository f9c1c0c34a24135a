"""The archive: Parquet files under one root on any filesystem pyarrow.fs knows: a local folder by default,
S3 in a cluster (`s3://bucket/prefix`, credentials from boto's usual chain, `endpoint_override` for a
moto server). Packs write raw inputs here (hot topics: the hour's tweets, partitioned by date/hour/woeid).

A write goes to a temporary name first and is then moved into place, so a reader never sees half a file
and a re-run of the same partition replaces it rather than adding a second copy.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


class Archive:
    def __init__(self, filesystem: pafs.FileSystem, root: str) -> None:
        self.filesystem = filesystem
        self.root = root.rstrip("/")

    @classmethod
    def from_uri(cls, uri: str) -> Archive:
        """`s3://bucket/prefix`, `file:///abs/path`, or a plain path (relative to the working directory)."""
        if "://" not in uri:
            uri = Path(uri).resolve().as_uri()
        try:
            filesystem, root = pafs.FileSystem.from_uri(uri)
        except (pa.ArrowInvalid, ValueError) as err:
            raise ValueError(f"packs.archive: {err}; give a folder, file:///PATH or s3://BUCKET/PREFIX") from None
        return cls(filesystem, root)

    def path(self, relative: str) -> str:
        parts = [part for part in relative.split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise ValueError(f"archive path {relative!r} must name a file below the archive's root")
        return "/".join([self.root, *parts])

    def write_parquet(self, relative: str, table: pa.Table) -> str:
        """Write `table` at `relative` (e.g. "tweets/date=2026-12-01/hour=03/woeid=1/part.parquet")."""
        final = self.path(relative)
        self.filesystem.create_dir(final.rsplit("/", 1)[0], recursive=True)
        temporary = f"{final}.{uuid.uuid4().hex}.tmp"
        with self.filesystem.open_output_stream(temporary) as out:
            pq.write_table(table, out)
        self.filesystem.move(temporary, final)
        return final

    def read_parquet(self, relative: str) -> pa.Table:
        return pq.read_table(self.path(relative), filesystem=self.filesystem)

    def exists(self, relative: str) -> bool:
        info: pafs.FileInfo = self.filesystem.get_file_info(self.path(relative))
        return bool(info.type == pafs.FileType.File)

    def list(self, prefix: str = "") -> list[str]:
        """Files below root/prefix, relative to the root, sorted."""
        base = self.path(prefix) if prefix else self.root
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        files = [info.path for info in self.filesystem.get_file_info(selector) if info.type == pafs.FileType.File]
        return sorted(path.removeprefix(self.root + "/") for path in files)
