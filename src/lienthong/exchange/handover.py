"""What the document axis needs from whoever connects this node to others: the next hop toward
another node, and queueing a document or a status for it. Exchange never imports federation;
the entry point puts federation's implementation (`federation/service.py`) in the Runtime, and a
node on its own uses `Standalone`, which knows no other node."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

if TYPE_CHECKING:  # exchange's models, for the signatures only
    from lienthong.exchange.models import Delivery, Document
    from lienthong.registry.models import Agency


@dataclass(frozen=True)
class StatusHandover:
    """A status recorded here that the other side's node must learn."""

    document: Document
    delivery: Delivery
    from_code: str
    by_sender: bool  # a recall goes toward the recipient's node, the others toward the sender's
    blob_sha256: str
    size: int
    trace: list[dict[str, str]] | None = None


class Handover(Protocol):
    def next_hop(
        self, session: Session, *, own: str, dest: str, visited: Collection[str] = ()
    ) -> str | None:
        """The peer a package for node `dest` leaves through; None when there is no way."""
        ...

    def queue_document(
        self, session: Session, *, document: Document, targets: Sequence[tuple[Delivery, Agency]]
    ) -> None:
        """Queue the document for the nodes serving these recipients, in the caller's
        transaction."""
        ...

    def queue_statuses(self, session: Session, *, statuses: Sequence[StatusHandover]) -> None:
        """Queue statuses for the other side's node when it is not this one."""
        ...


class Standalone:
    """A node with no peers: every agency served elsewhere is out of reach."""

    def next_hop(
        self, session: Session, *, own: str, dest: str, visited: Collection[str] = ()
    ) -> str | None:
        return None

    def queue_document(
        self, session: Session, *, document: Document, targets: Sequence[tuple[Delivery, Agency]]
    ) -> None:
        if targets:
            raise RuntimeError("a standalone node routes nothing to other nodes")

    def queue_statuses(self, session: Session, *, statuses: Sequence[StatusHandover]) -> None:
        return None
