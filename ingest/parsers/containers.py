"""Opens what users upload: a plain export, a ``.gz`` of one, or a ``.zip`` of several (pure: no Django).

Compressed input is read as a stream and never expanded on disk. The expanded size is capped,
so a zip or gzip bomb is refused with a clear message instead of filling memory or disk.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.parsers.base import IngestError, RowError

DEFAULT_MAX_EXPANDED_BYTES = 20 * 1024**3
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive


@dataclass(frozen=True)
class ExportMember:
    """One export inside an upload: its name (for messages) and how to open its bytes."""

    name: str
    open: Callable[[], IO[bytes]]


class _CappedReader(io.RawIOBase):
    """Reads a decompressing stream and refuses to expand past ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], *, limit: int, name: str, on_close: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._limit = limit
        self._name = name
        self._on_close = on_close
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (OSError, EOFError, zipfile.BadZipFile) as error:
            raise IngestError(
                [RowError(row=None, message=f"{self._name}: the compressed data is damaged or cut off ({error})")]
            ) from error
        self._total += len(data)
        if self._total > self._limit:
            raise IngestError(
                [
                    RowError(
                        row=None,
                        message=f"{self._name} expands to more than {self._limit:,} bytes; refused as a possible "
                        "zip or gzip bomb (raise UPLOAD_MAX_EXPANDED_BYTES if the file is genuine)",
                    )
                ]
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            if self._on_close is not None:
                self._on_close()
        super().close()


def _zip_members(path: Path, limit: int) -> list[ExportMember]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not Path(info.filename).name.startswith(".")
            ]
    except zipfile.BadZipFile as error:
        raise IngestError([RowError(row=None, message=f"the zip archive is damaged ({error})")]) from error
    if not infos:
        raise IngestError([RowError(row=None, message="the zip archive holds no files; expected CSV exports inside")])
    declared = sum(info.file_size for info in infos)
    if declared > limit:
        raise IngestError(
            [
                RowError(
                    row=None,
                    message=f"the zip archive expands to {declared:,} bytes, over the limit of {limit:,}; refused as "
                    "a possible zip bomb (raise UPLOAD_MAX_EXPANDED_BYTES if the file is genuine)",
                )
            ]
        )

    def opener(info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        def open_member() -> IO[bytes]:
            archive = zipfile.ZipFile(path)
            capped = _CappedReader(archive.open(info), limit=limit, name=info.filename, on_close=archive.close)
            return io.BufferedReader(capped, buffer_size=1024 * 1024)

        return open_member

    return [ExportMember(name=info.filename, open=opener(info)) for info in infos]


def export_members(path: Path, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES) -> list[ExportMember]:
    """The exports inside an uploaded file, by its magic bytes (not its name)."""
    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic.startswith(GZIP_MAGIC):
        name = path.name[:-3] if path.name.endswith(".gz") else path.name

        def open_gzip() -> IO[bytes]:
            expanding = gzip.GzipFile(path, "rb")  # closed by the reader that wraps it
            capped = _CappedReader(expanding, limit=max_expanded_bytes, name=path.name)  # type: ignore[arg-type]
            return io.BufferedReader(capped, buffer_size=1024 * 1024)

        return [ExportMember(name=name, open=open_gzip)]
    if magic in ZIP_MAGICS:
        return _zip_members(path, max_expanded_bytes)
    return [ExportMember(name=path.name, open=lambda: path.open("rb"))]
