"""Status codes of QCVN 102 (§9.2 of the reference), who may send which after which, and
recording them: delivery with 01, statuses from pages, the API and status packages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lienthong.exchange import log
from lienthong.exchange.edxml.model import ResponseFor, StaffInfo, StatusPackage
from lienthong.exchange.edxml.reader import ReadResult
from lienthong.exchange.edxml.signature import sign, verify
from lienthong.exchange.edxml.writer import write_status
from lienthong.exchange.intake import check_sender, signature_state
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.routing import organization
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from lienthong.kernel.pki import SigningIdentity
from lienthong.registry import service as registry
from lienthong.registry.models import Agency
from lienthong.runtime import Runtime

ARRIVED, REJECTED, ACCEPTED, ASSIGNED, PROCESSING, FINISHED = "01", "02", "03", "04", "05", "06"
RECALL_REQUESTED, REQUEST_AGREED, REQUEST_REFUSED = "13", "15", "16"


@dataclass(frozen=True)
class StatusCode:
    code: str
    vi: str
    en: str
    by: str  # node, recipient, sender


STATUS_CODES = {
    s.code: s
    for s in (
        StatusCode(ARRIVED, "Đã đến", "Arrived", "node"),
        StatusCode(REJECTED, "Từ chối tiếp nhận", "Rejected", "recipient"),
        StatusCode(ACCEPTED, "Đã tiếp nhận", "Accepted", "recipient"),
        StatusCode(ASSIGNED, "Phân công xử lý", "Assigned", "recipient"),
        StatusCode(PROCESSING, "Đang xử lý", "Processing", "recipient"),
        StatusCode(FINISHED, "Hoàn thành", "Finished", "recipient"),
        StatusCode(RECALL_REQUESTED, "Yêu cầu lấy lại", "Recall requested", "sender"),
        StatusCode(REQUEST_AGREED, "Đồng ý cập nhật/lấy lại", "Recall/update agreed", "recipient"),
        StatusCode(
            REQUEST_REFUSED, "Từ chối cập nhật/lấy lại", "Recall/update refused", "recipient"
        ),
    )
}

# What a recipient may send after each processing status.
RECIPIENT_NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset(),
    ARRIVED: frozenset({REJECTED, ACCEPTED}),
    ACCEPTED: frozenset({ASSIGNED, PROCESSING, FINISHED}),
    ASSIGNED: frozenset({PROCESSING, FINISHED}),
    PROCESSING: frozenset({PROCESSING, FINISHED}),
    FINISHED: frozenset(),
    REJECTED: frozenset(),
}


def label(code: str | None, lang: str = "vi") -> str:
    status = STATUS_CODES.get(code or "")
    if status is None:
        return "Đang chuyển" if lang != "en" else "In transit"
    return status.en if lang == "en" else status.vi


# ---- recording statuses -------------------------------------------------------------------


def _store_status_package(
    blobs: BlobStore, package: StatusPackage, identity: SigningIdentity | None
) -> str:
    writer = blobs.writer()
    chunks = (
        sign(lambda sig: write_status(package, signature=sig), identity)
        if identity is not None
        else write_status(package)
    )
    try:
        for chunk in chunks:
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish().sha256


def signer_for(runtime: Runtime, agency: Agency, *, required: bool) -> SigningIdentity | None:
    """A status is signed as what it says it is: with the From agency's own key, held here for
    remote signing. Without one, it is refused when signatures are required (the caller's
    `required`), else written unsigned and marked so."""
    identity = runtime.keys.identity(agency.code)
    if identity is None and required:
        raise Invalid(
            f"{agency.code} chưa có khóa ký số từ xa tại nút này: trạng thái không ký được.",
            f"{agency.code} has no remote-signing key on this node: the status cannot be signed.",
            code="remote_signing_unavailable",
            details={"agency": agency.code},
        )
    return identity


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
        description=description or label(code),
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
        code=ARRIVED,
        description="Đã đến - hệ thống của cơ quan nhận đã nhận, văn thư chưa xử lý",
        staff=None,
    )
    # The node writes the 01 for the recipient: signed with the recipient's key when the node
    # holds it; a recipient without one gets an unsigned 01, marked (delivery cannot wait).
    identity = signer_for(runtime, recipient, required=False)
    sha = _store_status_package(runtime.blobs, package, identity)
    record_and_pass_on(
        session,
        runtime,
        document,
        delivery,
        code=ARRIVED,
        description=package.description,
        by=recipient,
        staff=None,
        sha=sha,
        at=now,
        signature="remote" if identity is not None else "unsigned",
    )
    log.append(
        session,
        direction="out",
        kind="status",
        sender_code=recipient.code,
        document_id=document.document_id,
        package_sha256=sha,
    )


def record_and_pass_on(
    session: Session,
    runtime: Runtime,
    document: Document,
    delivery: Delivery,
    *,
    code: str,
    description: str | None,
    by: Agency,
    staff: StaffInfo | None,
    sha: str,
    at: datetime | None = None,
    trace: list[dict[str, str]] | None = None,
    signature: str | None = None,
    received_sha: str | None = None,
) -> DeliveryStatus:
    """Record a status, and queue it for the other party's node when that party is served
    elsewhere (federation): a recipient's status goes to the sender's node, a sender's (recall)
    to the recipient's."""
    row = record(
        session,
        delivery,
        code=code,
        description=description,
        by=by,
        staff=staff,
        package_sha=sha,
        at=at,
        signature=signature,
        received_sha=received_sha,
    )
    if delivery.route == "federation" or document.origin_node not in (
        None,
        runtime.settings.node_code,
    ):
        from lienthong.federation import outbox

        outbox.queue_status(
            session,
            runtime=runtime,
            document=document,
            delivery=delivery,
            from_code=by.code,
            by_sender=STATUS_CODES[code].by == "sender",
            blob_sha256=sha,
            size=runtime.blobs.size(sha),
            trace=trace,
        )
    return row


def record(
    session: Session,
    delivery: Delivery,
    *,
    code: str,
    description: str | None,
    by: Agency,
    staff: StaffInfo | None,
    package_sha: str | None,
    at: datetime | None = None,
    signature: str | None = None,
    received_sha: str | None = None,
) -> DeliveryStatus:
    at = at or utcnow()
    row = DeliveryStatus(
        delivery_id=delivery.id,
        code=code,
        description=description,
        by_agency_id=by.id,
        staff=dataclasses.asdict(staff) if staff else None,
        package_sha256=package_sha,
        received_sha256=received_sha,
        signature=signature,
        at=at,
    )
    session.add(row)
    if code in (RECALL_REQUESTED,):
        delivery.pending_request = code
    elif code in (REQUEST_AGREED, REQUEST_REFUSED):
        delivery.pending_request = None
        if code == REQUEST_AGREED:
            delivery.state = "recalled"
    else:
        delivery.status_code = code
    delivery.status_at = at
    session.flush()
    return row


def check_transition(delivery: Delivery, *, code: str, as_sender: bool) -> None:
    if code not in STATUS_CODES:
        raise Invalid(
            f"Mã trạng thái {code} không có trong QCVN 102.",
            f"Status code {code} is not one of QCVN 102's (01–06, 13, 15, 16).",
            code="invalid_status_code",
            details={"code": code},
        )
    who = STATUS_CODES[code].by
    if (as_sender and who != "sender") or (not as_sender and who != "recipient"):
        role_vi = "cơ quan gửi" if as_sender else "cơ quan nhận"
        raise Invalid(
            f"Trạng thái {code} ({label(code)}) không do {role_vi} gửi.",
            f"Status {code} ({label(code, 'en')}) is not one the {'sender' if as_sender else 'recipient'} may send.",
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
    if code == RECALL_REQUESTED:
        if delivery.state == "recalled" or delivery.pending_request:
            raise Conflict(
                "Đã có yêu cầu lấy lại đang chờ hoặc văn bản đã được lấy lại.",
                "A recall is already pending or done for this recipient.",
                code="status_out_of_order",
                details={"state": delivery.state},
            )
        return
    if code in (REQUEST_AGREED, REQUEST_REFUSED):
        if delivery.pending_request != RECALL_REQUESTED:
            raise Conflict(
                "Không có yêu cầu lấy lại/cập nhật nào đang chờ trả lời.",
                "There is no recall or update request waiting for an answer.",
                code="status_out_of_order",
                details={"current": delivery.status_code},
            )
        return
    if delivery.state == "recalled" or code not in RECIPIENT_NEXT.get(
        delivery.status_code, frozenset()
    ):
        raise Conflict(
            f"Không thể chuyển từ trạng thái {delivery.status_code} sang {code}.",
            f"Status {code} cannot follow {delivery.status_code}.",
            code="status_out_of_order",
            details={
                "current": delivery.status_code,
                "allowed": sorted(RECIPIENT_NEXT.get(delivery.status_code, ())),
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
    peer_trace: list[dict[str, str]] | None = None,
    blobs: BlobStore | None = None,
) -> tuple[dict[str, Any], bool]:
    """A status package from an agency's software, or (with `peer_trace`) handed over by a
    peer node: then the From agency must be served elsewhere, the package must carry that
    agency's own signature, and 01 marks a forwarded delivery delivered."""
    package = result.package
    assert isinstance(package, StatusPackage)
    from_peer = peer_trace is not None
    if not from_peer:
        check_sender(result, agency_code)
    repeated = session.scalars(
        select(DeliveryStatus).where(
            or_(
                DeliveryStatus.package_sha256 == result.stream.sha256,
                DeliveryStatus.received_sha256 == result.stream.sha256,
            )
        )
    ).first()
    if repeated is not None:
        return {
            "status_code": repeated.code,
            "document_id": package.response_for.document_id,
            "recorded": True,
        }, True
    from_agency = registry.get_agency(session, code=agency_code)
    if from_peer:
        signature = _check_peer_status(runtime, result, from_agency)
    else:
        signature, _ = signature_state(runtime, result, may_remote_sign=may_remote_sign)
    kept_sha, received_sha = result.stream.sha256, None
    if signature == "remote":
        # Sent unsigned by software whose agency signs remotely: kept and served signed.
        kept_sha = _store_status_package(
            blobs or runtime.blobs, package, signer_for(runtime, from_agency, required=True)
        )
        received_sha = result.stream.sha256
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
    arrived = from_peer and package.status_code == ARRIVED and not as_sender
    for delivery in deliveries:
        if arrived:
            if delivery.route != "federation" or delivery.status_code is not None:
                raise Conflict(
                    "Trạng thái 01 chỉ đến cho văn bản đã chuyển sang nút khác, và chỉ một lần.",
                    "Status 01 comes once, for a delivery handed to another node.",
                    code="status_out_of_order",
                    details={"state": delivery.state, "current": delivery.status_code},
                )
        else:
            check_transition(delivery, code=package.status_code, as_sender=as_sender)
    for delivery in deliveries:
        if arrived and delivery.state in ("waiting", "forwarded", "failed"):
            delivery.state = "delivered"
            delivery.delivered_at = utcnow()
        record_and_pass_on(
            session,
            runtime,
            document,
            delivery,
            code=package.status_code,
            description=package.description,
            by=from_agency,
            staff=package.staff,
            sha=kept_sha,  # the package as received (kept as a blob by that name), or signed here
            trace=peer_trace,
            signature=signature,
            received_sha=received_sha,
        )
    log.append(
        session,
        direction="in",
        kind="status",
        sender_code=agency_code,
        document_id=document.document_id,
        package_sha256=kept_sha,
    )
    return {
        "status_code": package.status_code,
        "document_id": document.document_id,
        "id": document.id,
        "recipients": len(deliveries),
    }, False


def _check_peer_status(runtime: Runtime, result: ReadResult, from_agency: Agency) -> str:
    if from_agency.serving_node == runtime.settings.node_code:
        raise Forbidden(
            f"{from_agency.code} do chính nút này phục vụ: nút khác không gửi trạng thái thay được.",
            f"{from_agency.code} is served by this node: another node cannot send its statuses.",
            code="sender_is_local",
        )
    package = result.package
    if package.signature is None:
        if runtime.settings.signature_required:
            raise Invalid(
                "Gói trạng thái chuyển qua nút khác phải được ký số.",
                "A status package handed over by another node must be signed.",
                code="signature_required",
            )
        return "unsigned"
    # Signed as what it says it is: by the From agency's own certificate, not its node's.
    verify(
        package.signature,
        result.stream,
        sender_code=from_agency.code,
        keys=runtime.keys,
        allow_sha1=runtime.settings.allow_sha1,
        served_by=from_agency.serving_node,
    )
    return "verified"


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
        # The same answer as a missing document: what other agencies exchange is not told.
        raise NotFound(
            f"Không có văn bản số {document_pk}.",
            f"No document {document_pk}.",
            code="unknown_document",
        )
    for delivery in deliveries:
        check_transition(delivery, code=code, as_sender=as_sender)
    rows = []
    identity = signer_for(runtime, actor, required=runtime.settings.signature_required)
    for delivery in deliveries:
        about = session.get_one(Agency, delivery.recipient_id) if as_sender else None
        package = status_package(
            document, sender, actor, code=code, description=description, staff=staff, about=about
        )
        sha = _store_status_package(runtime.blobs, package, identity)
        rows.append(
            record_and_pass_on(
                session,
                runtime,
                document,
                delivery,
                code=code,
                description=package.description,
                by=actor,
                staff=staff,
                sha=sha,
                signature="remote" if identity is not None else "unsigned",
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
