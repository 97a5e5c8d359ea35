"""Content-addressed blob store: attachments are written once, named by their sha256.

Writers stream: bytes are hashed on the way to a temporary file, which is renamed into place
when finished, so a reader never sees half a blob and memory stays flat whatever the size.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


class BlobWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def finish(self) -> BlobRef: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    def writer(self) -> BlobWriter: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...


class FileBlobWriter:
    def __init__(self, store: FileBlobStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._size = 0
        self._tmp = store.root / "tmp" / f"{secrets.token_hex(12)}.part"
        self._file: BinaryIO | None = self._tmp.open("wb")

    def write(self, data: bytes) -> None:
        assert self._file is not None, "writer already finished"
        self._hash.update(data)
        self._size += len(data)
        self._file.write(data)

    def finish(self) -> BlobRef:
        assert self._file is not None, "writer already finished"
        self._file.close()
        self._file = None
        ref = BlobRef(self._hash.hexdigest(), self._size)
        final = self._store.path(ref.sha256)
        if final.exists():
            self._tmp.unlink(missing_ok=True)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, final)
        return ref

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class FileBlobStore:
    """Files under a folder: `ab/cd/abcd…` by sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def writer(self) -> FileBlobWriter:
        return FileBlobWriter(self)

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> BlobRef:
        writer = self.writer()
        writer.write(data)
        return writer.finish()
