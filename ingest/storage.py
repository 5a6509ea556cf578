"""Where uploaded exports are kept: the ``uploads`` storage of STORAGES, local disk under MEDIA_ROOT (the default)
or S3-compatible object storage (``UPLOAD_STORAGE=s3``), so web processes and ingest workers need no shared disk.

The web process stages an upload in a local temporary directory, checks it there and only then keeps it
(``upload_file_save``): a refused file never reaches the storage, and a save that fails part-way leaves nothing.
A worker reads a kept upload through ``upload_file_local``: the readers (zip, gzip, pyarrow) need a seekable
local file, which is the kept file itself on local disk and a temporary copy, deleted afterwards, otherwise.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty
from storages.backends.s3 import S3Storage

logger = logging.getLogger(__name__)

UPLOADS_STORAGE = "uploads"
COPY_CHUNK_BYTES = 1024 * 1024


class _UploadStorage(LazyObject):
    """The ``uploads`` storage, looked up when first used (as Django's ``default_storage`` is)."""

    _wrapped: Any

    def _setup(self) -> None:
        self._wrapped = storages[UPLOADS_STORAGE]


_upload_storage = _UploadStorage()


@receiver(setting_changed)
def _storages_changed(*, setting: str, **kwargs: Any) -> None:
    """A changed STORAGES setting (tests override it) takes effect here too, as Django's storages reset."""
    if setting == "STORAGES":
        _upload_storage._wrapped = empty


def upload_storage() -> Storage:
    """The storage of uploaded exports; ``Upload.file``'s storage. A function, so the migration names it and not
    the backend the settings choose."""
    return cast(Storage, _upload_storage)


@contextmanager
def upload_staging() -> Iterator[Path]:
    """A private temporary directory on this machine to receive an upload in; deleted with what is left in it."""
    with tempfile.TemporaryDirectory(prefix="tokencast-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR) as directory:
        yield Path(directory)


class _StagedFile(File):
    """A staged upload: FileSystemStorage moves it into place (a rename within one file system), as it does with
    Django's own temporary upload files, instead of copying it."""

    def __init__(self, file: IO[bytes], path: Path) -> None:
        super().__init__(file, name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def upload_file_save(*, staged: Path, name: str) -> str:
    """Keep the staged file under ``name`` in the uploads storage; returns the name it is kept under.

    Whole or not at all: a save that fails part-way deletes what it wrote (an object store shows an object only
    once it is complete; a local copy may be partial). Memory stays bounded: the file is streamed in chunks.
    """
    storage = upload_storage()
    try:
        with staged.open("rb") as content:
            return storage.save(name, _StagedFile(content, staged))
    except BaseException:
        try:
            storage.delete(name)
        except Exception:  # the storage is unreachable: the save's own error is the one to report
            logger.exception("could not delete the partly kept upload %s", name)
        raise


def upload_file_delete(*, name: str) -> None:
    """Delete a kept upload; nothing happens when it is already gone."""
    upload_storage().delete(name)


@contextmanager
def upload_file_local(*, name: str) -> Iterator[Path]:
    """A seekable local file holding the kept upload ``name``: the file itself when the storage is local disk,
    else a copy streamed into a private temporary directory and deleted on exit.

    The copy keeps the stored file's name, so messages that name the file read the same with either storage.
    """
    storage = upload_storage()
    if isinstance(storage, FileSystemStorage):
        yield Path(storage.path(name))
        return
    with upload_staging() as directory:
        copy = directory / PurePosixPath(name).name
        with storage.open(name, "rb") as stored, copy.open("wb") as out:
            if isinstance(storage, S3Storage):
                # boto3 writes the object straight into the file, in ranged parts, without S3File's own spool.
                stored.obj.download_fileobj(out, Config=storage.transfer_config)  # type: ignore[attr-defined]
            else:
                shutil.copyfileobj(stored, out, COPY_CHUNK_BYTES)
        yield copy
