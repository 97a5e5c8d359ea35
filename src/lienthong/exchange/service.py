"""What each agency may see of the document axis: a document (if it sent or received it), its
deliveries, attachments and status history, an inbox and a sent list."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from lienthong.exchange.models import Delivery, DeliveryStatus, Document, DocumentAttachment
from lienthong.kernel.clock import start_of_local_day, utcnow
from lienthong.kernel.errors import NotFound
from lienthong.registry.models import Agency

# ---- reading ------------------------------------------------------------------------------


def visible_document(
    session: Session, *, document_pk: int, agency_codes: list[str]
) -> tuple[Document, Delivery | None]:
    """The document if one of the caller's agencies sent it or received it (authorization in
    the query); for a recipient also its delivery."""
    document = session.get(Document, document_pk)
    if document is None:
        raise NotFound(
            f"Không có văn bản số {document_pk}.",
            f"No document {document_pk}.",
            code="unknown_document",
        )
    sender = session.get_one(Agency, document.sender_id)
    if sender.code in agency_codes:
        return document, None
    delivery = session.scalars(
        select(Delivery)
        .join(Agency, Agency.id == Delivery.recipient_id)
        .where(
            Delivery.document_fk == document.id,
            Agency.code.in_(agency_codes),
            Delivery.state.in_(("delivered", "recalled")),
        )
    ).first()
    if delivery is None:
        # Same answer as a missing document: do not reveal what other agencies exchange.
        raise NotFound(
            f"Không có văn bản số {document_pk}.",
            f"No document {document_pk}.",
            code="unknown_document",
        )
    return document, delivery


def deliveries_of(session: Session, document: Document) -> list[tuple[Delivery, Agency]]:
    rows = session.execute(
        select(Delivery, Agency)
        .join(Agency, Agency.id == Delivery.recipient_id)
        .where(Delivery.document_fk == document.id)
        .order_by(Agency.code)
    ).all()
    return [(row[0], row[1]) for row in rows]


def attachments(session: Session, document: Document) -> list[DocumentAttachment]:
    return list(
        session.scalars(
            select(DocumentAttachment)
            .where(DocumentAttachment.document_fk == document.id)
            .order_by(DocumentAttachment.position)
        )
    )


def history(session: Session, delivery_ids: list[int]) -> dict[int, list[DeliveryStatus]]:
    out: dict[int, list[DeliveryStatus]] = {i: [] for i in delivery_ids}
    for row in session.scalars(
        select(DeliveryStatus)
        .where(DeliveryStatus.delivery_id.in_(delivery_ids))
        .order_by(DeliveryStatus.at, DeliveryStatus.id)
    ):
        out[row.delivery_id].append(row)
    return out


@dataclasses.dataclass
class InboxFilter:
    status: str | None = None
    priority: int | None = None
    sender: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    unread: bool | None = None


def inbox(
    session: Session, *, agency: Agency, filters: InboxFilter, page: int, page_size: int
) -> tuple[list[tuple[Delivery, Document, Agency]], int]:
    sender = aliased(Agency)
    stmt = (
        select(Delivery, Document, sender)
        .join(Document, Document.id == Delivery.document_fk)
        .join(sender, sender.id == Document.sender_id)
        .where(Delivery.recipient_id == agency.id, Delivery.state == "delivered")
    )
    if filters.status:
        stmt = stmt.where(Delivery.status_code == filters.status)
    if filters.priority is not None:
        stmt = stmt.where(Document.priority == filters.priority)
    if filters.sender:
        stmt = stmt.where(sender.code == filters.sender)
    if filters.date_from:
        stmt = stmt.where(Delivery.delivered_at >= _day_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Delivery.delivered_at < _day_start(filters.date_to, 1))
    if filters.unread is not None:
        stmt = stmt.where(
            Delivery.read_at.is_(None) if filters.unread else Delivery.read_at.is_not(None)
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    unread_first = case((Delivery.read_at.is_(None), 0), else_=1)
    rows = session.execute(
        stmt.order_by(
            unread_first, Document.priority.desc(), Delivery.delivered_at.desc(), Delivery.id.desc()
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows], int(total)


def sent(
    session: Session, *, agency: Agency, page: int, page_size: int
) -> tuple[list[tuple[Document, list[tuple[Delivery, Agency]]]], int]:
    base = select(Document).where(Document.sender_id == agency.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    documents = list(
        session.scalars(
            base.order_by(Document.received_at.desc(), Document.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    by_doc: dict[int, list[tuple[Delivery, Agency]]] = {d.id: [] for d in documents}
    if documents:
        for delivery, recipient in session.execute(
            select(Delivery, Agency)
            .join(Agency, Agency.id == Delivery.recipient_id)
            .where(Delivery.document_fk.in_(list(by_doc)))
            .order_by(Agency.code)
        ):
            by_doc[delivery.document_fk].append((delivery, recipient))
    return [(d, by_doc[d.id]) for d in documents], int(total)


def mark_read(delivery: Delivery) -> None:
    if delivery.read_at is None:
        delivery.read_at = utcnow()


def _day_start(day: date, plus_days: int = 0) -> datetime:
    return start_of_local_day(day + timedelta(days=plus_days))


def count_unread(session: Session, *, agency: Agency) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                and_(
                    Delivery.recipient_id == agency.id,
                    Delivery.state == "delivered",
                    Delivery.read_at.is_(None),
                )
            )
        )
        or 0
    )


__all__ = ["InboxFilter", "inbox", "sent"]
