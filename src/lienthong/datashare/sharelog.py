"""The sharing log (Art 45): one row per call with the subjects whose records it returned, its
digest appended to the node's hash-chained message log, reads scoped to the owner, the consumer
or the data subject, and CSV export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lienthong.datashare.models import ShareCall, ShareSubject, SubjectLink
from lienthong.exchange import log as message_log
from lienthong.exchange.models import LogEntry
from lienthong.kernel.clock import utcnow
from lienthong.registry.models import Agency

LOG_KIND = "data"  # message_log.kind of a sharing call


def digest(call: ShareCall, subjects: Sequence[str]) -> str:
    """What the chain holds of a call: any later edit of the row no longer matches it."""
    body = {
        "at": call.at.isoformat(),
        "request_id": call.request_id,
        "request_hash": call.request_hash,
        "consumer": [call.consumer_agency_id, call.consumer_system],
        "service": [call.dataset_code, call.service_code],
        "grant": call.grant_id,
        "purpose": call.purpose,
        "status": call.status,
        "outcome": call.outcome,
        "items": list(call.items),
        "records": call.record_count,
        "subjects": sorted(subjects),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def record(
    session: Session, *, call: ShareCall, subjects: Sequence[str], consumer_code: str
) -> ShareCall:
    call.at = call.at or utcnow()
    session.add(call)
    session.flush()
    unique = sorted(set(subjects))
    session.add_all(ShareSubject(call_id=call.id, subject=s) for s in unique)
    entry = message_log.append(
        session,
        direction="out",
        kind=LOG_KIND,
        sender_code=consumer_code[:64],
        document_id=call.request_id,
        package_sha256=digest(call, unique),
    )
    call.log_entry_id = entry.id
    session.flush()
    return call


def tampered(session: Session, *, since: datetime | None = None) -> list[int]:
    """Calls whose row no longer matches the digest in the chain (or whose entry is gone);
    `lienthong log verify` checks the chain itself."""
    query = select(ShareCall, LogEntry.package_sha256).outerjoin(
        LogEntry, LogEntry.id == ShareCall.log_entry_id
    )
    if since:
        query = query.where(ShareCall.at >= since)
    bad = []
    for call, expected in session.execute(query.order_by(ShareCall.id)):
        subjects = session.scalars(
            select(ShareSubject.subject).where(ShareSubject.call_id == call.id)
        ).all()
        if expected is None or digest(call, list(subjects)) != expected:
            bad.append(call.id)
    return bad


def list_calls(
    session: Session,
    *,
    owner_ids: Sequence[int] = (),
    consumer_ids: Sequence[int] = (),
    everything: bool = False,
    dataset: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[ShareCall], int]:
    query = select(ShareCall)
    if not everything:
        query = query.where(
            or_(
                ShareCall.owner_agency_id.in_(list(owner_ids)),
                ShareCall.consumer_agency_id.in_(list(consumer_ids)),
            )
        )
    if dataset:
        query = query.where(ShareCall.dataset_code == dataset)
    if outcome:
        query = query.where(ShareCall.outcome == outcome)
    if since:
        query = query.where(ShareCall.at >= since)
    if until:
        query = query.where(ShareCall.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ShareCall.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), total


def agency_codes(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(wanted))).all())


def call_json(call: ShareCall, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "at": call.at,
        "request_id": call.request_id,
        "consumer_agency": codes.get(call.consumer_agency_id or 0),
        "consumer_system": call.consumer_system,
        "owner_agency": codes.get(call.owner_agency_id or 0),
        "dataset": call.dataset_code,
        "service": call.service_code,
        "grant_id": call.grant_id,
        "purpose": call.purpose,
        "status": call.status,
        "outcome": call.outcome,
        "items": list(call.items),
        "record_count": call.record_count,
        "duration_ms": round(call.duration_ms, 2),
        "request_size": call.request_size,
        "response_size": call.response_size,
    }


CSV_COLUMNS = (
    "at",
    "request_id",
    "consumer_agency",
    "consumer_system",
    "owner_agency",
    "dataset",
    "service",
    "grant_id",
    "purpose",
    "status",
    "outcome",
    "items",
    "record_count",
    "duration_ms",
    "request_size",
    "response_size",
)


def csv_lines(rows: Sequence[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = dict(row)
        values["items"] = " ".join(values["items"])
        values["at"] = values["at"].isoformat()
        writer.writerow([values[c] for c in CSV_COLUMNS])
    yield "\ufeff" + buffer.getvalue()


# ---- the data subject's own view --------------------------------------------------------


def subjects_of(session: Session, *, user_id: int) -> list[SubjectLink]:
    return list(
        session.scalars(
            select(SubjectLink).where(SubjectLink.user_id == user_id).order_by(SubjectLink.id)
        )
    )


def link_subject(session: Session, *, user_id: int, subject: str, kind: str) -> SubjectLink:
    from lienthong.datashare.identifiers import check_subject

    check_subject(kind, subject)
    found = session.scalars(
        select(SubjectLink).where(SubjectLink.user_id == user_id, SubjectLink.subject == subject)
    ).first()
    if found:
        return found
    link = SubjectLink(user_id=user_id, subject=subject, kind=kind, verified_at=utcnow())
    session.add(link)
    session.flush()
    return link


def usage_of(
    session: Session, *, user_id: int, page: int = 1, page_size: int = 50
) -> tuple[list[tuple[ShareCall, str]], int]:
    """Every allowed call that returned a record of one of this person's identifiers; nothing
    about anyone else (the query starts from the person's own links)."""
    mine = select(SubjectLink.subject).where(SubjectLink.user_id == user_id)
    query = (
        select(ShareCall, ShareSubject.subject)
        .join(ShareSubject, ShareSubject.call_id == ShareCall.id)
        .where(ShareSubject.subject.in_(mine), ShareCall.outcome == "ok")
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(ShareCall.id.desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return [(c, s) for c, s in rows], total
