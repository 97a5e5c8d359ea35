"""Request bodies to a spooled temporary file: the parser is synchronous and runs in a worker
thread, while the body arrives asynchronously; memory stays bounded at the spool size."""

from __future__ import annotations

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


def chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk
