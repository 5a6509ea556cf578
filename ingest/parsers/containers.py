"""Opens what users upload: a plain export, a ``.gz`` of one, or a ``.zip`` of several (pure: no Django).

Compressed input is read as a stream and never expanded on disk. The expanded size is capped,
so a zip or gzip bomb is refused with a clear message instead of filling memory or disk.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.parsers.base import IngestError, RowError

DEFAULT_MAX_EXPANDED_BYTES = 20 * 1024**3
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
# zipfile reads an archive's whole central directory and keeps an object of about 500 bytes per entry: the
# directory is measured from its end record first, so a zip of a million empty files is refused unread.
ZIP_MAX_MEMBERS = 1000
ZIP_MAX_DIRECTORY_BYTES = 256 * 1024
_END_RECORD = b"PK\x05\x06"  # end of central directory record: 22 bytes, then a comment of up to 65,535
_END_RECORD_SEARCH = 22 + 65_535
_ZIP64_LOCATOR = b"PK\x06\x07"  # 20 bytes just before the end record of a zip64 archive
_ZIP64_END_RECORD = b"PK\x06\x06"


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


def _zip_directory_size(path: Path) -> tuple[int, int] | None:
    """(entries, bytes) of a zip archive's central directory, as its end record states them; None when there is
    no end record (zipfile then reports the archive damaged)."""
    with path.open("rb") as raw:
        size = raw.seek(0, io.SEEK_END)
        raw.seek(max(0, size - _END_RECORD_SEARCH))
        tail = raw.read()
        at = tail.rfind(_END_RECORD)
        if at < 0 or len(tail) - at < 22:
            return None
        entries, directory_bytes = struct.unpack_from("<HI", tail, at + 10)
        if entries != 0xFFFF and directory_bytes != 0xFFFFFFFF:
            return entries, directory_bytes
        # Zip64: the figures are in the zip64 end record, found through the locator before the end record.
        locator = tail[max(0, at - 20) : at]
        if locator.startswith(_ZIP64_LOCATOR) and len(locator) == 20:
            raw.seek(struct.unpack_from("<Q", locator, 8)[0])
            record = raw.read(56)
            if len(record) == 56 and record.startswith(_ZIP64_END_RECORD):
                return struct.unpack_from("<QQ", record, 32)
    raise IngestError(
        [RowError(row=None, message="the zip archive is damaged (its zip64 end of central directory is missing)")]
    )


def _refuse_large_directory(entries: int, directory_bytes: int) -> None:
    if entries > ZIP_MAX_MEMBERS or directory_bytes > ZIP_MAX_DIRECTORY_BYTES:
        raise IngestError(
            [
                RowError(
                    row=None,
                    message=f"the zip archive lists {entries:,} files ({directory_bytes:,} bytes of directory); "
                    f"expected at most {ZIP_MAX_MEMBERS:,} files and {ZIP_MAX_DIRECTORY_BYTES:,} bytes of "
                    "directory: upload the exports in several archives",
                )
            ]
        )


def _zip_members(path: Path, limit: int) -> list[ExportMember]:
    directory = _zip_directory_size(path)
    if directory is not None:
        _refuse_large_directory(*directory)
    try:
        with zipfile.ZipFile(path) as archive:
            listed = archive.infolist()
            infos = [
                info
                for info in listed
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not Path(info.filename).name.startswith(".")
            ]
    except zipfile.BadZipFile as error:
        raise IngestError([RowError(row=None, message=f"the zip archive is damaged ({error})")]) from error
    if directory is not None:  # the end record may understate the entries the directory holds
        _refuse_large_directory(len(listed), directory[1])
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
