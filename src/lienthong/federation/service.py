"""Federation's side of the document axis' `Handover` (exchange/handover.py): the next hop
toward another node, and documents and statuses queued for it in `federation_outbound`, in the
transaction of the change that calls for them. The entry point puts one in the Runtime."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lienthong.exchange.handover import StatusHandover
from lienthong.federation import outbox, peers

if TYPE_CHECKING:
    from lienthong.exchange.models import Delivery, Document
    from lienthong.registry.models import Agency


class FederationHandover:
    def __init__(self, node_code: str) -> None:
        self.node_code = node_code

    def next_hop(
        self, session: Session, *, own: str, dest: str, visited: Collection[str] = ()
    ) -> str | None:
        return peers.next_hop(session, own=own, dest=dest, visited=visited)

    def queue_document(
        self, session: Session, *, document: Document, targets: Sequence[tuple[Delivery, Agency]]
    ) -> None:
        outbox.queue_document(session, own=self.node_code, document=document, targets=targets)

    def queue_statuses(self, session: Session, *, statuses: Sequence[StatusHandover]) -> None:
        for status in statuses:
            outbox.queue_status(session, own=self.node_code, status=status)
