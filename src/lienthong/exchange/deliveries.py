"""Deliveries: one per recipient of a document, made here and only here, whichever way the
document came (a new package, the receivers an update adds, a successor, a peer's hand-over).

A recipient served by this node has the document in its inbox at once (`delivered`); its 01 is
written afterwards, signed with the recipient's key, by the arrivals job (exchange/arrivals.py),
off the sender's request. A recipient served by another node waits (`waiting`) for the
hand-over that `runtime.handover` queues in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lienthong.exchange.models import Delivery, Document
from lienthong.exchange.routing import Route
from lienthong.kernel import jobs, stages
from lienthong.kernel.clock import utcnow

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

ARRIVALS_JOB = "exchange.arrivals"


@stages.staged("delivery")
def place(
    session: Session,
    *,
    runtime: Runtime,
    document: Document,
    routes: Sequence[Route],
    note: str | None = None,
    arrivals: list[int] | None = None,
) -> list[Delivery]:
    """One delivery per route. The ids of the local ones go to `arrivals` when the caller
    writes one arrivals job for a whole batch; otherwise this call enqueues its own."""
    now = utcnow()
    local: list[Delivery] = []
    remote = []
    for route in routes:
        assert route.agency is not None, "refused routes have no delivery"
        waiting = route.route == "federation"
        delivery = Delivery(
            document_fk=document.id,
            recipient_id=route.agency.id,
            addressed_code=route.addressed_code,
            route=route.route or "local",
            note=note or route.note_vi,
            state="waiting" if waiting else "delivered",
            delivered_at=None if waiting else now,
            created_at=now,
        )
        session.add(delivery)
        if waiting:
            remote.append((delivery, route.agency))
        else:
            local.append(delivery)
    session.flush()
    if remote:
        runtime.handover.queue_document(session, document=document, targets=remote)
    if local:
        ids = [d.id for d in local]
        if arrivals is not None:
            arrivals.extend(ids)
        else:
            enqueue_arrivals(session, ids)
    return [*local, *(d for d, _ in remote)]


def enqueue_arrivals(session: Session, delivery_ids: Sequence[int]) -> None:
    if delivery_ids:
        jobs.enqueue(session, kind=ARRIVALS_JOB, payload={"delivery_ids": list(delivery_ids)})
