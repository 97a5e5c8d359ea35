"""Statuses that arrive: a status package from an agency's software or handed over by a peer,
and a status decided on this node's pages or API, written as a signed package. Each is checked
against the rules of exchange/statuses.py and recorded there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lienthong.exchange import log
from lienthong.exchange.edxml.model import StaffInfo, StatusPackage
from lienthong.exchange.edxml.reader import ReadResult
from lienthong.exchange.edxml.signature import verify
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.reading import check_sender, signature_state
from lienthong.exchange.statuses import (
    ARRIVED,
    check_transition,
    record_and_pass_on,
    signer_for,
    status_package,
    store_status_package,
)
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from lienthong.registry import service as registry
from lienthong.registry.models import Agency

if TYPE_CHECKING:
    from lienthong.runtime import Runtime


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
    log_entries: list[dict[str, str]] | None = None,
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
        kept_sha = store_status_package(
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
    entry = {
        "direction": "in",
        "kind": "status",
        "sender_code": agency_code,
        "document_id": document.document_id,
        "package_sha256": kept_sha,
    }
    if log_entries is None:
        log.append_many(session, [entry])
    else:
        log_entries.append(entry)  # the batch appends them all at once
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
    entries: list[dict[str, str]] = []
    identity = signer_for(runtime, actor, required=runtime.settings.signature_required)
    for delivery in deliveries:
        about = session.get_one(Agency, delivery.recipient_id) if as_sender else None
        package = status_package(
            document, sender, actor, code=code, description=description, staff=staff, about=about
        )
        sha = store_status_package(runtime.blobs, package, identity)
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
        entries.append(
            {
                "direction": "out",
                "kind": "status",
                "sender_code": actor.code,
                "document_id": document.document_id,
                "package_sha256": sha,
            }
        )
    session.flush()
    log.append_many(session, entries)
    return rows
