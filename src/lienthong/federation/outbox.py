"""The outbound queue: what this node owes its peers, written in the same transaction as the
change that calls for it, and what happens when a peer takes or refuses a package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lienthong.exchange.handover import StatusHandover
from lienthong.exchange.intake import trace_entry
from lienthong.exchange.models import Delivery, Document
from lienthong.federation import peers
from lienthong.federation.models import Outbound, Peer
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid, NotFound
from lienthong.registry.models import Agency

QUEUED, SENT, DEAD = "queued", "sent", "dead"


def queue_document(
    session: Session,
    *,
    own: str,
    document: Document,
    targets: Sequence[tuple[Delivery, Agency]],
) -> list[Outbound]:
    """One hand-over per next hop, naming the recipients it is for (a package addressed to a
    ministry and to another province's department may leave once, through the national axis,
    for both)."""
    trace = list(document.trace or [])
    visited = {t["node"] for t in trace} | {own}
    by_hop: dict[str, list[str]] = {}
    for delivery, agency in targets:
        hop = peers.next_hop(session, own=own, dest=agency.serving_node, visited=visited)
        if hop is None:  # routing refused these already; a peer removed meanwhile lands here
            raise Invalid(
                f"Không có đường tới nút {agency.serving_node}.",
                f"No route to node {agency.serving_node}.",
                code="no_route_to_node",
            )
        # The code as the sender wrote it in To: the far node checks it against the package.
        by_hop.setdefault(hop, []).append(delivery.addressed_code)
    rows = []
    for hop, codes in by_hop.items():
        priority = document.priority
        if document.target_id is not None:
            # A recall, update or replacement must not overtake the document it is about,
            # however urgent: it leaves no earlier than that document still waiting for the hop.
            waiting = session.scalar(
                select(func.min(Outbound.priority)).where(
                    Outbound.document_fk == document.target_id,
                    Outbound.peer_code == hop,
                    Outbound.state == QUEUED,
                )
            )
            if waiting is not None:
                priority = min(priority, waiting)
        row = Outbound(
            kind="edoc",
            peer_code=hop,
            document_fk=document.id,
            blob_sha256=document.stored_sha256,
            size=document.package_size,
            origin_code=_sender_code(session, document),
            document_id=document.document_id,
            recipients=codes,
            priority=priority,
            trace=trace,
            state=QUEUED,
            attempts=0,
            created_at=utcnow(),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _sender_code(session: Session, document: Document) -> str:
    return session.get_one(Agency, document.sender_id).code


def queue_status(session: Session, *, own: str, status: StatusHandover) -> Outbound | None:
    """A status recorded here that the other side's node must learn: a recipient's status goes
    toward the sender's node, a sender's (recall) toward the recipient's. Nothing when that
    side is served here."""
    document, delivery = status.document, status.delivery
    other_id = delivery.recipient_id if status.by_sender else document.sender_id
    toward = session.get_one(Agency, other_id).serving_node
    if toward == own:
        return None
    trace = list(status.trace or [trace_entry(own)])
    hop = peers.next_hop(session, own=own, dest=toward, visited={t["node"] for t in trace} - {own})
    row = Outbound(
        kind="status",
        peer_code=hop or toward,
        document_fk=document.id,
        blob_sha256=status.blob_sha256,
        size=status.size,
        origin_code=status.from_code,
        document_id=document.document_id,
        recipients=[],
        priority=document.priority,
        trace=trace,
        state=QUEUED if hop else DEAD,
        attempts=0,
        last_error=None if hop else f"no route to node {toward}",
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def handed_over(session: Session, row: Outbound, *, receipt: dict[str, Any]) -> None:
    """The peer took the package: keep its signed receipt; deliveries move to `forwarded`, or
    to `failed` for a recipient the far side refused."""
    row.state = SENT
    row.sent_at = utcnow()
    row.last_error = None
    row.receipt = receipt
    if row.kind != "edoc":
        return
    answers = {a.get("code"): a for a in receipt.get("body", {}).get("recipients", [])}
    for delivery_id, code in _deliveries(session, row):
        answer = answers.get(code, {})
        if answer.get("result") == "refused":
            note = f"{row.peer_code}: {answer.get('message') or answer.get('error')}"
            _move(session, delivery_id, ("waiting", "failed"), "failed", note)
        else:
            _move(session, delivery_id, ("waiting", "failed"), "forwarded")


def _move(
    session: Session,
    delivery_id: int,
    from_states: tuple[str, ...],
    to_state: str,
    note: str | None = None,
) -> None:
    """A conditional update: the 01 from the far side may have landed (and made the delivery
    `delivered`) in a concurrent transaction between our read and our write."""
    values: dict[str, Any] = {"state": to_state}
    if note is not None:
        values["note"] = note
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(from_states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def refused(session: Session, row: Outbound, *, error: dict[str, Any]) -> None:
    """The peer refused the package for good (bad signature, unknown recipient …): a dead
    letter with the reason; the sender sees the deliveries failed."""
    row.state = DEAD
    row.last_error = f"{error.get('code')}: {error.get('message')}"[:4000]
    if row.kind != "edoc":
        return
    note = f"{row.peer_code}: {error.get('message') or error.get('code')}"
    for delivery_id, _code in _deliveries(session, row):
        _move(session, delivery_id, ("waiting",), "failed", note)


def _deliveries(session: Session, row: Outbound) -> list[tuple[int, str]]:
    return [
        (delivery_id, code)
        for delivery_id, code in session.execute(
            select(Delivery.id, Delivery.addressed_code).where(
                Delivery.document_fk == row.document_fk,
                Delivery.addressed_code.in_(row.recipients),
            )
        ).all()
    ]


def requeue(session: Session, *, outbound_id: int) -> Outbound:
    row = session.get(Outbound, outbound_id)
    if row is None:
        raise NotFound(
            f"Không có gói tin chờ chuyển số {outbound_id}.",
            f"No outbound package {outbound_id}.",
            code="unknown_outbound",
        )
    if row.state != DEAD:
        raise Invalid(
            f"Chỉ đưa lại được gói tin đã hỏng (trạng thái hiện tại: {row.state}).",
            f"Only dead letters can be requeued (current state: {row.state}).",
            code="outbound_not_dead",
        )
    own_peer = session.scalars(select(Peer).where(Peer.code == row.peer_code)).first()
    if own_peer is None:
        raise Invalid(
            f"Nút {row.peer_code} không còn là nút ngang hàng; hãy thêm lại trước.",
            f"{row.peer_code} is no longer a peer; add it again first.",
            code="unknown_peer",
        )
    row.state = QUEUED
    row.attempts = 0
    row.last_error = None
    if row.kind == "edoc":
        for delivery_id, _code in _deliveries(session, row):
            _move(session, delivery_id, ("failed",), "waiting")
    return row


def listing(
    session: Session, *, state: str, page: int, page_size: int, peer: str | None = None
) -> tuple[list[Outbound], int]:
    stmt = select(Outbound).where(Outbound.state == state)
    if peer:
        stmt = stmt.where(Outbound.peer_code == peer)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Outbound.id.desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(rows), int(total)


def outbound_json(row: Outbound) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "peer": row.peer_code,
        "document_id": row.document_id,
        "origin": row.origin_code,
        "recipients": row.recipients,
        "priority": row.priority,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(timespec="seconds"),
        "sent_at": row.sent_at.isoformat(timespec="seconds") if row.sent_at else None,
        "trace": row.trace,
        "receipt": row.receipt,
    }
