"""The document axis after intake: delivery to inboxes, statuses, recall, update, replacement,
and what each agency may see."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from lienthong.exchange import log
from lienthong.exchange import statuses as sc
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import (
    DocumentPackage,
    Organization,
    ResponseFor,
    StaffInfo,
    StatusPackage,
)
from lienthong.exchange.edxml.reader import ReadResult
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import write_status
from lienthong.exchange.intake import check_sender, signature_state
from lienthong.exchange.models import Delivery, DeliveryStatus, Document, DocumentAttachment
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from lienthong.kernel.pki import SigningIdentity
from lienthong.registry import service as registry
from lienthong.registry.models import Agency
from lienthong.runtime import Runtime


def organization(agency: Agency) -> Organization:
    return Organization(
        organ_id=agency.code,
        organ_name=agency.name,
        organization_in_charge=agency.organization_in_charge,
        organ_add=agency.address,
        email=agency.email,
        telephone=agency.phone,
        fax=agency.fax,
        website=agency.website,
    )


def _store_status_package(
    runtime: Runtime, package: StatusPackage, identity: SigningIdentity | None
) -> str:
    writer = runtime.blobs.writer()
    chunks = (
        sign(lambda sig: write_status(package, signature=sig), identity)
        if identity is not None
        else write_status(package)
    )
    for chunk in chunks:
        writer.write(chunk)
    return writer.finish().sha256


def status_package(
    document: Document,
    sender: Agency,
    from_agency: Agency,
    *,
    code: str,
    description: str | None,
    staff: StaffInfo | None,
    about: Agency | None = None,
) -> StatusPackage:
    return StatusPackage(
        from_=organization(from_agency),
        response_for=ResponseFor(
            organ_id=(about or sender).code,
            code="/".join(filter(None, (document.code_number, document.code_notation))) or None,
            promulgation_date=document.promulgation_date.strftime("%Y/%m/%d")
            if document.promulgation_date
            else None,
            document_id=document.document_id,
        ),
        status_code=code,
        description=description or sc.label(code),
        timestamp=datetime.now(LOCAL_ZONE).replace(tzinfo=None, microsecond=0),
        staff=staff,
    )


def deliver(session: Session, *, runtime: Runtime, delivery_id: int) -> None:
    """Put a document in its recipient's inbox and answer 01 for the recipient. Idempotent."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != "pending":
        return
    document = session.get_one(Document, delivery.document_fk)
    recipient = session.get_one(Agency, delivery.recipient_id)
    sender = session.get_one(Agency, document.sender_id)
    now = utcnow()
    delivery.state = "delivered"
    delivery.delivered_at = now
    package = status_package(
        document,
        sender,
        recipient,
        code=sc.ARRIVED,
        description="Đã đến - hệ thống của cơ quan nhận đã nhận, văn thư chưa xử lý",
        staff=None,
    )
    sha = _store_status_package(runtime, package, runtime.keys.node_identity())
    _record(
        session,
        delivery,
        code=sc.ARRIVED,
        description=package.description,
        by=recipient,
        staff=None,
        package_sha=sha,
        at=now,
    )
    log.append(
        session,
        direction="out",
        kind="status",
        sender_code=recipient.code,
        document_id=document.document_id,
        package_sha256=sha,
    )


def _record(
    session: Session,
    delivery: Delivery,
    *,
    code: str,
    description: str | None,
    by: Agency,
    staff: StaffInfo | None,
    package_sha: str | None,
    at: datetime | None = None,
) -> DeliveryStatus:
    at = at or utcnow()
    row = DeliveryStatus(
        delivery_id=delivery.id,
        code=code,
        description=description,
        by_agency_id=by.id,
        staff=dataclasses.asdict(staff) if staff else None,
        package_sha256=package_sha,
        at=at,
    )
    session.add(row)
    if code in (sc.RECALL_REQUESTED,):
        delivery.pending_request = code
    elif code in (sc.REQUEST_AGREED, sc.REQUEST_REFUSED):
        delivery.pending_request = None
        if code == sc.REQUEST_AGREED:
            delivery.state = "recalled"
    else:
        delivery.status_code = code
    delivery.status_at = at
    session.flush()
    return row


def check_transition(delivery: Delivery, *, code: str, as_sender: bool) -> None:
    if code not in sc.STATUS_CODES:
        raise Invalid(
            f"Mã trạng thái {code} không có trong QCVN 102.",
            f"Status code {code} is not one of QCVN 102's (01–06, 13, 15, 16).",
            code="invalid_status_code",
            details={"code": code},
        )
    who = sc.STATUS_CODES[code].by
    if (as_sender and who != "sender") or (not as_sender and who != "recipient"):
        role_vi = "cơ quan gửi" if as_sender else "cơ quan nhận"
        raise Invalid(
            f"Trạng thái {code} ({sc.label(code)}) không do {role_vi} gửi.",
            f"Status {code} ({sc.label(code, 'en')}) is not one the {'sender' if as_sender else 'recipient'} may send.",
            code="status_not_allowed",
            details={"code": code, "role": "sender" if as_sender else "recipient"},
        )
    if delivery.state not in ("delivered", "recalled") and not as_sender:
        raise Conflict(
            "Văn bản chưa đến hộp thư của cơ quan nhận.",
            "The document has not reached the inbox yet.",
            code="status_out_of_order",
            details={"state": delivery.state},
        )
    if code == sc.RECALL_REQUESTED:
        if delivery.state == "recalled" or delivery.pending_request:
            raise Conflict(
                "Đã có yêu cầu lấy lại đang chờ hoặc văn bản đã được lấy lại.",
                "A recall is already pending or done for this recipient.",
                code="status_out_of_order",
                details={"state": delivery.state},
            )
        return
    if code in (sc.REQUEST_AGREED, sc.REQUEST_REFUSED):
        if delivery.pending_request != sc.RECALL_REQUESTED:
            raise Conflict(
                "Không có yêu cầu lấy lại/cập nhật nào đang chờ trả lời.",
                "There is no recall or update request waiting for an answer.",
                code="status_out_of_order",
                details={"current": delivery.status_code},
            )
        return
    if delivery.state == "recalled" or code not in sc.RECIPIENT_NEXT.get(
        delivery.status_code, frozenset()
    ):
        raise Conflict(
            f"Không thể chuyển từ trạng thái {delivery.status_code} sang {code}.",
            f"Status {code} cannot follow {delivery.status_code}.",
            code="status_out_of_order",
            details={
                "current": delivery.status_code,
                "allowed": sorted(sc.RECIPIENT_NEXT.get(delivery.status_code, ())),
            },
        )


def find_deliveries(
    session: Session, *, document_id: str, from_agency: Agency, about_code: str | None
) -> tuple[list[Delivery], bool, Document]:
    """The deliveries a status is about, and whether it comes from the document's sender.
    Correlated by DocumentId and From, not by ResponseFor/OrganId (§9.1 of the reference)."""
    own = session.scalars(
        select(Document).where(
            Document.document_id == document_id, Document.sender_id == from_agency.id
        )
    ).first()
    if own is not None:
        stmt = select(Delivery).where(Delivery.document_fk == own.id)
        if about_code and about_code != from_agency.code:
            about = registry.find_agency(session, code=about_code)
            if about is not None:
                stmt = stmt.where(
                    or_(Delivery.recipient_id == about.id, Delivery.addressed_code == about_code)
                )
        return list(session.scalars(stmt)), True, own
    row = session.execute(
        select(Delivery, Document)
        .join(Document, Document.id == Delivery.document_fk)
        .where(Document.document_id == document_id, Delivery.recipient_id == from_agency.id)
        .order_by(Document.id.desc())
    ).first()
    if row is None:
        raise NotFound(
            f"Không có văn bản {document_id} gửi đến hoặc đi từ {from_agency.code}.",
            f"No document {document_id} sent to or by {from_agency.code}.",
            code="unknown_document",
            details={"document_id": document_id},
        )
    return [row[0]], False, row[1]


def receive_status_package(
    session: Session,
    *,
    runtime: Runtime,
    result: ReadResult,
    agency_code: str,
    may_remote_sign: bool,
) -> tuple[dict[str, Any], bool]:
    package = result.package
    assert isinstance(package, StatusPackage)
    check_sender(result, agency_code)
    repeated = session.scalars(
        select(DeliveryStatus).where(DeliveryStatus.package_sha256 == result.stream.sha256)
    ).first()
    if repeated is not None:
        return {
            "status_code": repeated.code,
            "document_id": package.response_for.document_id,
            "recorded": True,
        }, True
    signature_state(runtime, result, may_remote_sign=may_remote_sign)
    from_agency = registry.get_agency(session, code=agency_code)
    deliveries, as_sender, document = find_deliveries(
        session,
        document_id=package.response_for.document_id or "",
        from_agency=from_agency,
        about_code=package.response_for.organ_id,
    )
    if not deliveries:
        raise NotFound(
            "Không có cơ quan nhận nào khớp với trạng thái này.",
            "No recipient matches this status.",
            code="unknown_document",
        )
    for delivery in deliveries:
        check_transition(delivery, code=package.status_code, as_sender=as_sender)
    for delivery in deliveries:
        _record(
            session,
            delivery,
            code=package.status_code,
            description=package.description,
            by=from_agency,
            staff=package.staff,
            package_sha=result.stream.sha256,
        )
    log.append(
        session,
        direction="in",
        kind="status",
        sender_code=agency_code,
        document_id=document.document_id,
        package_sha256=result.stream.sha256,
    )
    return {
        "status_code": package.status_code,
        "document_id": document.document_id,
        "id": document.id,
        "recipients": len(deliveries),
    }, False


def post_status(
    session: Session,
    *,
    runtime: Runtime,
    document_pk: int,
    agency_code: str,
    code: str,
    description: str | None,
    staff: StaffInfo | None = None,
    recipients: list[str] | None = None,
) -> list[DeliveryStatus]:
    """A status decided on this node (pages, native API): written as an edXML status package,
    signed with the agency's remote-signing key (or the node's), and recorded."""
    document = session.get(Document, document_pk)
    actor = registry.get_agency(session, code=agency_code)
    if document is None:
        raise NotFound(
            f"Không có văn bản số {document_pk}.",
            f"No document {document_pk}.",
            code="unknown_document",
        )
    sender = session.get_one(Agency, document.sender_id)
    as_sender = sender.id == actor.id
    stmt = select(Delivery).where(Delivery.document_fk == document.id)
    if not as_sender:
        stmt = stmt.where(Delivery.recipient_id == actor.id)
    elif recipients:
        stmt = stmt.join(Agency, Agency.id == Delivery.recipient_id).where(
            Agency.code.in_(recipients)
        )
    deliveries = list(session.scalars(stmt))
    if not deliveries:
        raise Forbidden(
            "Cơ quan không gửi cũng không nhận văn bản này.",
            "This agency neither sent nor received this document.",
            code="not_your_document",
        )
    for delivery in deliveries:
        check_transition(delivery, code=code, as_sender=as_sender)
    rows = []
    identity = runtime.keys.identity(actor.code) or runtime.keys.node_identity()
    for delivery in deliveries:
        about = session.get_one(Agency, delivery.recipient_id) if as_sender else None
        package = status_package(
            document, sender, actor, code=code, description=description, staff=staff, about=about
        )
        sha = _store_status_package(runtime, package, identity)
        rows.append(
            _record(
                session,
                delivery,
                code=code,
                description=package.description,
                by=actor,
                staff=staff,
                package_sha=sha,
            )
        )
        log.append(
            session,
            direction="out",
            kind="status",
            sender_code=actor.code,
            document_id=document.document_id,
            package_sha256=sha,
        )
    return rows


def apply_business(
    session: Session,
    *,
    runtime: Runtime,
    document: Document,
    target: Document,
    package: DocumentPackage,
) -> None:
    """Recall (13 to the recipients named), update (recipients added or removed) and
    replacement (the old document marked replaced)."""
    sender = session.get_one(Agency, document.sender_id)
    kind = package.business.doc_type
    if kind == 1:
        codes = [t.organ_id for t in package.to]
        for delivery in session.scalars(select(Delivery).where(Delivery.document_fk == target.id)):
            recipient = session.get_one(Agency, delivery.recipient_id)
            if (
                (recipient.code in codes or delivery.addressed_code in codes)
                and delivery.state == "delivered"
                and not delivery.pending_request
            ):
                _record(
                    session,
                    delivery,
                    code=sc.RECALL_REQUESTED,
                    description=package.business.reason,
                    by=sender,
                    staff=package.business.staff,
                    package_sha=document.package_sha256,
                )
    elif kind == 2:
        from lienthong.exchange import intake, routing

        for receiver in package.business.receivers:
            route = routing.resolve(
                session, code=receiver.organ_id, node_code=runtime.settings.node_code
            )
            if route.agency is None:
                continue
            existing = session.scalars(
                select(Delivery).where(
                    Delivery.document_fk == target.id, Delivery.recipient_id == route.agency.id
                )
            ).first()
            if (
                receiver.receiver_type == 0
                and existing is not None
                and existing.state != "withdrawn"
            ):
                existing.state = "withdrawn"
                existing.note = f"Rút khỏi danh sách nhận bởi gói cập nhật {document.document_id}."
            elif receiver.receiver_type == 1 and existing is None:
                delivery = Delivery(
                    document_fk=target.id,
                    recipient_id=route.agency.id,
                    addressed_code=receiver.organ_id,
                    route=route.route or "local",
                    note=f"Bổ sung bởi gói cập nhật {document.document_id}.",
                    state="waiting" if route.route == "federation" else "pending",
                    created_at=utcnow(),
                )
                session.add(delivery)
                session.flush()
                if delivery.state == "pending":
                    from lienthong.kernel import jobs

                    jobs.enqueue(
                        session, kind=intake.DELIVER_JOB, payload={"delivery_id": delivery.id}
                    )
    elif kind == 3:
        target.replaced_by_id = document.id
    session.flush()


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
    from datetime import timedelta

    from lienthong.kernel.clock import start_of_local_day

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


__all__ = ["InboxFilter", "deliver", "inbox", "post_status", "refuse", "sent"]
