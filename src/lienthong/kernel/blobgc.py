"""The blob collector: blobs no record references, written or claimed longer ago than the
grace period, are deleted (kernel/blobs.py says why that is safe against a package being
written at the same time). Which columns reference blobs is said by each domain
(`BLOB_COLUMNS` in its models), gathered by the entry point."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, select, union
from sqlalchemy.orm import Mapped, Session, mapped_column

from lienthong.db import Base
from lienthong.kernel.blobs import BlobStore, GcResult
from lienthong.kernel.clock import utcnow

GC_JOB = "kernel.blob_gc"


class BlobGcRun(Base):
    """What one run of the collector found and removed."""

    __tablename__ = "blob_gc_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int]
    deleted: Mapped[int] = mapped_column(Integer)
    deleted_bytes: Mapped[int]
    recent: Mapped[int] = mapped_column(Integer)
    temporary: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))


def referenced(
    session: Session, columns: Sequence[ColumnElement[Any]], shas: list[str]
) -> set[str]:
    """Which of `shas` some record references, in one query."""
    if not shas or not columns:
        return set()
    query = union(*(select(column.label("sha")).where(column.in_(shas)) for column in columns))
    return {row[0] for row in session.execute(query)}


def collect(
    session: Session,
    *,
    store: BlobStore,
    columns: Sequence[ColumnElement[Any]],
    grace_seconds: float,
) -> BlobGcRun:
    result: GcResult = store.collect(
        referenced=lambda shas: referenced(session, columns, shas), grace_seconds=grace_seconds
    )
    run = BlobGcRun(
        at=utcnow(),
        files=result.files - result.deleted,
        bytes=result.bytes - result.deleted_bytes,
        deleted=result.deleted,
        deleted_bytes=result.deleted_bytes,
        recent=result.recent,
        temporary=result.temporary,
    )
    session.add(run)
    session.flush()
    return run


def last_run(session: Session) -> BlobGcRun | None:
    return session.scalars(select(BlobGcRun).order_by(BlobGcRun.id.desc()).limit(1)).first()
