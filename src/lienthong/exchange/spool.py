"""Request bodies to a spooled temporary file: the parser is synchronous and runs in a worker
thread, while the body arrives asynchronously; memory stays bounded at the spool size."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO

from lienthong.exchange.edxml.errors import too_large

SPOOL_MEMORY = 1024 * 1024
CHUNK = 256 * 1024


async def spool(stream: AsyncIterator[bytes], *, limit: int) -> IO[bytes]:
    spooled: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - returned open
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            spooled.close()
            raise too_large(limit)
        spooled.write(chunk)
    spooled.seek(0)
    return spooled


def chunks(handle: IO[bytes], limit: int | None = None) -> Iterator[bytes]:
    """The handle's bytes from where it stands, at most `limit` of them."""
    left = limit
    while left is None or left > 0:
        chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def length(handle: IO[bytes]) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def ends_with(handle: IO[bytes], suffix: bytes) -> bool:
    size = length(handle)
    if size < len(suffix):
        return False
    handle.seek(size - len(suffix))
    found = handle.read(len(suffix)) == suffix
    handle.seek(0)
    return found


def sha256_of(handle: IO[bytes], size: int) -> bytes:
    """The sha-256 of the first `size` bytes, read in chunks; the handle is rewound."""
    digest = hashlib.sha256()
    for chunk in chunks(handle, size):
        digest.update(chunk)
    handle.seek(0)
    return digest.digest()
