"""Content-addressed blob store: attachments are written once, named by their sha256.

Writers stream: bytes are hashed on the way to a temporary file, which is renamed into place
when finished, so a reader never sees half a blob and memory stays flat whatever the size.

Nothing may be left behind by work that is refused, and nothing in use may ever go. A writer
that puts a new file in place marks it *unclaimed* (mode 0600) and returns a `fresh` ref; a
writer that finds the same content already there *claims* it (mode 0644, mtime now). Both
happen under one lock (`flock` on `.lock`), as does every deletion, so:

- `discard(refs)` after a refusal deletes only files this work created and nobody else has
  claimed since (another package with the same attachment may be committing right now);
- `collect(...)`, the garbage collector, deletes only files no record references that nobody
  has written or claimed within the grace period (longer than any transaction).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

UNCLAIMED, CLAIMED = 0o600, 0o644


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    fresh: bool = field(default=False, compare=False)  # this writer put the file in place


class BlobWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def finish(self) -> BlobRef: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    def writer(self) -> BlobWriter: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def discard(self, refs: Iterable[BlobRef]) -> int:
        """Delete the fresh blobs among `refs` that nobody else has claimed; how many went."""
        ...

    def collect(
        self, *, referenced: Callable[[list[str]], set[str]], grace_seconds: float
    ) -> GcResult:
        """Delete what no record references and nobody touched within the grace period."""
        ...


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
        sha = self._hash.hexdigest()
        final = self._store.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._store.locked():
            if final.exists():
                os.chmod(final, CLAIMED)  # someone may be about to discard it: it is ours too
                os.utime(final)
                fresh = False
            else:
                os.chmod(self._tmp, UNCLAIMED)
                os.replace(self._tmp, final)
                fresh = True
        self._tmp.unlink(missing_ok=True)
        return BlobRef(sha, self._size, fresh)

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

    @contextmanager
    def locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def discard(self, refs: Iterable[BlobRef]) -> int:
        gone = 0
        for ref in {r.sha256: r for r in refs if r.fresh}.values():
            path = self.path(ref.sha256)
            with self.locked():
                try:
                    unclaimed = stat.S_IMODE(path.stat().st_mode) == UNCLAIMED
                except FileNotFoundError:
                    continue
                if unclaimed:
                    path.unlink()
                    gone += 1
        return gone

    def walk(self) -> Iterator[tuple[str, int, float]]:
        """Every blob: (sha256, size, mtime)."""
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                for path in second.iterdir():
                    try:
                        info = path.stat()
                    except FileNotFoundError:
                        continue
                    yield path.name, info.st_size, info.st_mtime

    def collect(
        self,
        *,
        referenced: Callable[[list[str]], set[str]],
        grace_seconds: float,
        batch: int = 1000,
    ) -> GcResult:
        """Delete blobs that no record references and nobody touched within the grace period,
        and writers' temporary files left by crashed processes."""
        result = GcResult()
        cutoff = time.time() - grace_seconds
        chunk: list[tuple[str, int, float]] = []

        def sweep(items: list[tuple[str, int, float]]) -> None:
            used = referenced([sha for sha, _, _ in items])
            for sha, size, mtime in items:
                if sha in used:
                    continue
                if mtime > cutoff:
                    result.recent += 1
                    continue
                path = self.path(sha)
                with self.locked():  # re-read under the lock: a writer may just have claimed it
                    try:
                        if path.stat().st_mtime > cutoff:
                            result.recent += 1
                            continue
                        path.unlink()
                    except FileNotFoundError:
                        continue
                result.deleted += 1
                result.deleted_bytes += size

        for item in self.walk():
            result.files += 1
            result.bytes += item[1]
            chunk.append(item)
            if len(chunk) >= batch:
                sweep(chunk)
                chunk = []
        if chunk:
            sweep(chunk)
        for part in (self.root / "tmp").glob("*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    result.temporary += 1
            except FileNotFoundError:
                continue
        return result


@dataclass
class GcResult:
    files: int = 0
    bytes: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    recent: int = 0  # unreferenced but within the grace period
    temporary: int = 0  # writers' leftovers removed


class TrackedBlobs:
    """The blob store seen by one unit of work: remembers every blob it wrote, so that a
    refusal can `discard()` them all."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.written: list[BlobRef] = []

    def writer(self) -> BlobWriter:
        return _TrackingWriter(self.store.writer(), self.written)

    def open(self, sha256: str) -> BinaryIO:
        return self.store.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.store.exists(sha256)

    def size(self, sha256: str) -> int:
        return self.store.size(sha256)

    def collect(
        self, *, referenced: Callable[[list[str]], set[str]], grace_seconds: float
    ) -> GcResult:
        return self.store.collect(referenced=referenced, grace_seconds=grace_seconds)

    def discard(self, refs: Iterable[BlobRef] | None = None) -> int:
        """Discard `refs` (default: everything written through this view)."""
        chosen = list(self.written if refs is None else refs)
        gone = self.store.discard(chosen)
        shas = {r.sha256 for r in chosen}
        self.written = [r for r in self.written if r.sha256 not in shas]
        return gone


class _TrackingWriter:
    def __init__(self, inner: BlobWriter, sink: list[BlobRef]) -> None:
        self.inner = inner
        self.sink = sink

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def finish(self) -> BlobRef:
        ref = self.inner.finish()
        self.sink.append(ref)
        return ref

    def abort(self) -> None:
        self.inner.abort()
