"""Events stored in batches, the sources' counters, search over raw events, and retention."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict
from lienthong.security.intake import Received, SourceCounts
from lienthong.security.models import SecurityAlertEvent, SecurityEvent, SecuritySource
from lienthong.security.normalise import parse_stamp

SOURCE_KINDS = ("syslog", "http", "access_log", "eve", "node")


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "")[:limit]


def event_row(item: Received) -> dict[str, Any]:
    fields = item.fields
    when = parse_stamp(fields.get("@timestamp")) or item.received_at
    return {
        "at": when,
        "received_at": item.received_at,
        "source": item.source[:120],
        "dataset": _text(fields.get("event.dataset"), 80) or item.kind,
        "action": _text(fields.get("event.action"), 120),
        "outcome": _text(fields.get("event.outcome"), 20),
        "source_ip": _text(fields.get("source.ip"), 64),
        "user_name": _text(fields.get("user.name"), 120),
        "host_name": _text(fields.get("host.name") or fields.get("host.hostname"), 255),
        "message": _text(fields.get("message"), 4000),
        # NUL cannot be stored in PostgreSQL text or JSON.
        "fields": {
            k: (v.replace("\x00", "") if isinstance(v, str) else v) for k, v in fields.items()
        },
        "original": _text(item.original, 1_000_000),
    }


def _new_ids(session: Session, n: int) -> list[int]:
    """`n` ids for rows about to be inserted. PostgreSQL hands them out from the column's
    sequence; SQLite's transactions hold the write lock from BEGIN IMMEDIATE, so the next
    numbers after the highest are ours."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence('security_event', 'id'))"
                " FROM generate_series(1, :n)"
            ),
            {"n": n},
        )
        return [int(i) for i in found]
    top = session.scalar(select(func.max(SecurityEvent.id))) or 0
    return list(range(top + 1, top + 1 + n))


def store(session: Session, batch: Sequence[Received]) -> list[int]:
    """One multi-row INSERT for the batch; the ids in the batch's order. Ids are taken first
    so the insert needs no RETURNING: SQLAlchemy would send RETURNING with the rows' order
    kept one row per statement on PostgreSQL (measured: 230 events/s against 20,000)."""
    if not batch:
        return []
    ids = _new_ids(session, len(batch))
    rows = [event_row(item) | {"id": i} for item, i in zip(batch, ids, strict=True)]
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, rows)
    else:
        session.execute(insert(SecurityEvent), rows)
    return ids


_COLUMNS = (
    "id",
    "at",
    "received_at",
    "source",
    "dataset",
    "action",
    "outcome",
    "source_ip",
    "user_name",
    "host_name",
    "message",
    "fields",
    "original",
)


def _copy(session: Session, rows: list[dict[str, Any]]) -> None:
    """COPY in the session's own transaction. psycopg's executemany sends a statement per
    row and a many-VALUES INSERT spends its time compiling: profiled at 350 and ~2,000
    events/s on PostgreSQL, where COPY takes tens of thousands."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    columns = ", ".join(_COLUMNS)
    cursor = driver.cursor()
    with cursor, cursor.copy(f"COPY security_event ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                tuple(
                    json.dumps(row[c], ensure_ascii=False, default=str) if c == "fields" else row[c]
                    for c in _COLUMNS
                )
            )


def add_counts(session: Session, counts: Mapping[str, SourceCounts]) -> None:
    """Add the intake's counters since the last batch to each source's row (made on first
    sight for listeners and the node; posting sources are made by an operator)."""
    if not counts:
        return
    existing = {
        s.name: s
        for s in session.scalars(
            select(SecuritySource).where(SecuritySource.name.in_(list(counts)))
        )
    }
    for name, c in counts.items():
        row = existing.get(name)
        if row is None:
            row = SecuritySource(
                name=name,
                kind=c.kind,
                events=0,
                dropped=0,
                malformed=0,
                truncated=0,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
        session.execute(
            update(SecuritySource)
            .where(SecuritySource.id == row.id)
            .values(
                events=SecuritySource.events + c.taken,
                dropped=SecuritySource.dropped + c.dropped,
                malformed=SecuritySource.malformed + c.malformed,
                truncated=SecuritySource.truncated + c.truncated,
                last_event_at=func.coalesce(c.last_at, SecuritySource.last_event_at)
                if c.last_at
                else SecuritySource.last_event_at,
            )
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_source(session: Session, *, name: str, kind: str) -> tuple[SecuritySource, str | None]:
    """A source; one that posts over HTTP gets a token, shown once."""
    if session.scalar(select(SecuritySource.id).where(SecuritySource.name == name)) is not None:
        raise Conflict(
            f"Nguồn nhật ký '{name}' đã có.",
            f"The log source '{name}' exists already.",
            code="source_exists",
        )
    token = secrets.token_urlsafe(32) if kind == "http" else None
    row = SecuritySource(
        name=name,
        kind=kind,
        token_sha256=_token_hash(token) if token else None,
        events=0,
        dropped=0,
        malformed=0,
        truncated=0,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, token


def source_for_token(session: Session, token: str) -> SecuritySource | None:
    if not token:
        return None
    return session.scalar(
        select(SecuritySource).where(
            SecuritySource.token_sha256 == _token_hash(token), SecuritySource.kind == "http"
        )
    )


def list_sources(session: Session) -> list[tuple[SecuritySource, int]]:
    """Every source with its events of the last minute."""
    since = utcnow() - timedelta(minutes=1)
    recent = dict(
        session.execute(
            select(SecurityEvent.source, func.count())
            .where(SecurityEvent.at >= since)
            .group_by(SecurityEvent.source)
        ).all()
    )
    rows = session.scalars(select(SecuritySource).order_by(SecuritySource.name))
    return [(row, int(recent.get(row.name, 0))) for row in rows]


def search(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    source_ip: str | None = None,
    user_name: str | None = None,
    dataset: str | None = None,
    text: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[SecurityEvent], int]:
    """Raw events by time, field and text, newest first."""
    stmt = select(SecurityEvent)
    if since:
        stmt = stmt.where(SecurityEvent.at >= since)
    if until:
        stmt = stmt.where(SecurityEvent.at < until)
    for column, value in (
        (SecurityEvent.source, source),
        (SecurityEvent.source_ip, source_ip),
        (SecurityEvent.user_name, user_name),
        (SecurityEvent.dataset, dataset),
    ):
        if value:
            stmt = stmt.where(column == value)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                SecurityEvent.message.ilike(pattern, escape="\\"),
                SecurityEvent.original.ilike(pattern, escape="\\"),
                cast(SecurityEvent.action, String).ilike(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total)


def prune(session: Session, *, keep_days: int) -> int:
    """Drop raw events older than `keep_days` (and their links to alerts; the alerts stay)."""
    cutoff = utcnow() - timedelta(days=keep_days)
    old = select(SecurityEvent.id).where(SecurityEvent.at < cutoff)
    session.execute(delete(SecurityAlertEvent).where(SecurityAlertEvent.event_id.in_(old)))
    result = session.execute(delete(SecurityEvent).where(SecurityEvent.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
