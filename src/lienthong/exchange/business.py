"""What a package of another business type does to the document it names (edXML's
`Bussiness`, §5 of the reference): a recall (1) asks each named recipient for 13; an update (2)
adds receivers (delivered like any recipient, through exchange/deliveries.py, locally or to
their node) or withdraws them; a replacement (3) marks the old document replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import deliveries
from lienthong.exchange import statuses as sc
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import DocumentPackage
from lienthong.exchange.models import Delivery, Document
from lienthong.exchange.routing import resolve
from lienthong.registry.models import Agency

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

RECALL, UPDATE, REPLACE = 1, 2, 3


def find_target(session: Session, package: DocumentPackage, sender_id: int) -> Document | None:
    """The document a recall, update or replacement is about: each names it in its own place."""
    kind = package.business.doc_type
    if kind == 0:
        return None
    candidates: list[str | None] = []
    if kind == RECALL:
        candidates = [r.document_id for r in package.response_for]
    elif kind == UPDATE:
        candidates = [package.business.document_id]
    elif kind == REPLACE:
        candidates = [r.document_id for r in package.business.replacements]
    for document_id in filter(None, candidates):
        found = session.scalars(
            select(Document).where(
                Document.sender_id == sender_id, Document.document_id == document_id.strip()
            )
        ).first()
        if found is not None:
            return found
    raise refuse(
        "unknown_target_document",
        "Không tìm thấy văn bản gốc mà gói thu hồi/cập nhật/thay thế nhắc đến (DocumentId của chính cơ quan gửi).",
        "The document this recall/update/replacement is about was not found among the sender's documents.",
        business_doc_type=kind,
        looked_for=[c for c in candidates if c],
    )


def apply(
    session: Session,
    *,
    runtime: Runtime,
    document: Document,
    target: Document,
    package: DocumentPackage,
) -> None:
    sender = session.get_one(Agency, document.sender_id)
    kind = package.business.doc_type
    if kind == RECALL:
        codes = [t.organ_id for t in package.to]
        rows = session.execute(
            select(Delivery, Agency)
            .join(Agency, Agency.id == Delivery.recipient_id)
            .where(Delivery.document_fk == target.id)
        ).all()
        for delivery, recipient in rows:
            if (
                (recipient.code in codes or delivery.addressed_code in codes)
                and delivery.state == "delivered"
                and not delivery.pending_request
            ):
                sc.record(
                    session,
                    delivery,
                    code=sc.RECALL_REQUESTED,
                    description=package.business.reason,
                    by=sender,
                    staff=package.business.staff,
                    package_sha=document.package_sha256,
                )
    elif kind == UPDATE:
        added = []
        for receiver in package.business.receivers:
            route = resolve(
                session,
                code=receiver.organ_id,
                node_code=runtime.settings.node_code,
                handover=runtime.handover,
            )
            if route.agency is None:
                continue
            existing = session.scalars(
                select(Delivery).where(
                    Delivery.document_fk == target.id, Delivery.recipient_id == route.agency.id
                )
            ).first()
            if receiver.receiver_type == 0 and existing is not None:
                if existing.state != "withdrawn":
                    existing.state = "withdrawn"
                    existing.note = (
                        f"Rút khỏi danh sách nhận bởi gói cập nhật {document.document_id}."
                    )
            elif receiver.receiver_type == 1 and existing is None:
                route.addressed_code = receiver.organ_id
                added.append(route)
        if added:
            deliveries.place(
                session,
                runtime=runtime,
                document=target,
                routes=added,
                note=f"Bổ sung bởi gói cập nhật {document.document_id}.",
            )
    elif kind == REPLACE:
        target.replaced_by_id = document.id
    session.flush()
