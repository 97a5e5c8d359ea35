"""The 01 ("Đã đến") of deliveries placed in local inboxes: written for many deliveries in one
transaction, each a status package of its own signed with its recipient's key (QCVN 102 asks
for each status to be signed by the agency it comes from), then recorded and, for a document
from another node, queued back toward it.

Idempotent: a delivery that already has its 01 is left as it is (a job may run twice)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lienthong.exchange import log
from lienthong.exchange.handover import StatusHandover
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.statuses import (
    ARRIVED,
    crosses_nodes,
    record,
    signer_for,
    status_package,
    store_status_package,
)
from lienthong.kernel import stages
from lienthong.kernel.clock import utcnow
from lienthong.registry.models import Agency

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

DESCRIPTION = "Đã đến - hệ thống của cơ quan nhận đã nhận, văn thư chưa xử lý"


def write_arrivals(session: Session, *, runtime: Runtime, delivery_ids: Sequence[int]) -> int:
    """The 01 of each delivery that lacks one; returns how many were written."""
    if not delivery_ids:
        return 0
    recipient, sender = aliased(Agency), aliased(Agency)
    rows = session.execute(
        select(Delivery, Document, recipient, sender)
        .join(Document, Document.id == Delivery.document_fk)
        .join(recipient, recipient.id == Delivery.recipient_id)
        .join(sender, sender.id == Document.sender_id)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.state.in_(("delivered", "recalled")))
        .order_by(Delivery.id)
    ).all()
    done = set(
        session.scalars(
            select(DeliveryStatus.delivery_id).where(
                DeliveryStatus.delivery_id.in_(list(delivery_ids)),
                DeliveryStatus.code == ARRIVED,
            )
        )
    )
    entries: list[dict[str, str]] = []
    handovers: list[StatusHandover] = []
    for delivery, document, to, by in rows:
        if delivery.id in done:
            continue
        package = status_package(
            document, by, to, code=ARRIVED, description=DESCRIPTION, staff=None
        )
        # The node writes the 01 for the recipient: signed with the recipient's key when the
        # node holds it; a recipient without one gets an unsigned 01, marked so.
        identity = signer_for(runtime, to, required=False)
        with stages.stage("status_sign"):
            sha = store_status_package(runtime.blobs, package, identity)
        record(
            session,
            delivery,
            code=ARRIVED,
            description=DESCRIPTION,
            by=to,
            staff=None,
            package_sha=sha,
            at=delivery.delivered_at,
            signature="remote" if identity is not None else "unsigned",
        )
        if crosses_nodes(runtime, document, delivery):
            handovers.append(
                StatusHandover(
                    document=document,
                    delivery=delivery,
                    from_code=to.code,
                    by_sender=False,
                    blob_sha256=sha,
                    size=runtime.blobs.size(sha),
                )
            )
        entries.append(
            {
                "direction": "out",
                "kind": "status",
                "sender_code": to.code,
                "document_id": document.document_id,
                "package_sha256": sha,
            }
        )
    if handovers:
        runtime.handover.queue_statuses(session, statuses=handovers)
    log.append_many(session, entries)
    return len(entries)


def place_pending(session: Session, *, runtime: Runtime, delivery_id: int) -> None:
    """A delivery left `pending` by an older version of the node (one job each): placed in its
    inbox now, with its 01."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != "pending":
        return
    delivery.state = "delivered"
    delivery.delivered_at = utcnow()
    session.flush()
    write_arrivals(session, runtime=runtime, delivery_ids=[delivery_id])
