"""Intake: a package arrives, is read and checked (exchange/reading.py) off any transaction,
then stored: the document, its attachments, one delivery per recipient, the business it does to
another document, and its message-log entry — or refused whole, with nothing stored and the
blobs it wrote discarded (unless another package has claimed the same content: kernel/blobs.py).

Storing is a unit of work that leaves two things for its batch: the deliveries whose 01 the
arrivals job will write, and the log entries. Requests that arrive together are stored by the
group committer (kernel/groupcommit.py, wired in app.py) in one transaction with one log append
and one arrivals job; `receive` stores one package in the caller's transaction, the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import (
    answers,
    business,
    deliveries,
    log,
    pdfcheck,
    registers,
    routing,
)
from lienthong.exchange.edxml.model import DocumentPackage, StatusPackage
from lienthong.exchange.edxml.reader import ReadResult
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import write_document
from lienthong.exchange.models import Document, DocumentAttachment
from lienthong.exchange.reading import (
    check_attachments,
    check_sender,
    read_package,
    signature_state,
)
from lienthong.kernel.blobs import BlobStore, TrackedBlobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid
from lienthong.kernel.groupcommit import GroupCommit
from lienthong.registry import service as registry
from lienthong.registry.cache import AGENCIES
from lienthong.registry.models import Agency

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

# What a stored unit leaves for its batch (kernel/groupcommit.py merges these lists).
ARRIVALS, LOG = "arrivals", "log"
Contribution = dict[str, list[Any]]
Store = Callable[[Session, Contribution], tuple[dict[str, Any], bool]]


def finish(session: Session, batch: Contribution) -> None:
    """What a batch of stored units does once: one arrivals job, one log append (last, so the
    log's lock is held only until the commit that follows)."""
    deliveries.enqueue_arrivals(session, batch.get(ARRIVALS, []))
    log.append_many(session, batch.get(LOG, []))


def log_entry(direction: str, kind: str, sender: str, document_id: str, sha: str) -> dict[str, str]:
    return {
        "direction": direction,
        "kind": kind,
        "sender_code": sender,
        "document_id": document_id,
        "package_sha256": sha,
    }


@dataclass
class Arrival:
    """A document package read and checked, ready to be stored."""

    result: ReadResult
    package: DocumentPackage
    sender: Agency
    signature: str
    signer_subject: str | None
    routes: list[routing.Route]
    results: list[dict[str, Any]]
    stored_sha: str


def prepare_document(
    session: Session,
    *,
    runtime: Runtime,
    result: ReadResult,
    agency_code: str,
    may_remote_sign: bool,
    blobs: BlobStore,
) -> Arrival:
    """Everything that can refuse a document before it is stored and needs no write: the
    sender, the signature, the recipients' routes, the node's remote signature."""
    package = result.package
    assert isinstance(package, DocumentPackage)
    check_sender(result, agency_code)
    agencies = AGENCIES.view(session)
    sender = agencies.find(agency_code) or registry.get_agency(session, code=agency_code)
    if sender.serving_node != runtime.settings.node_code:
        raise Forbidden(
            f"{sender.code} do nút {sender.serving_node} phục vụ: hãy gửi qua nút đó.",
            f"{sender.code} is served by node {sender.serving_node}: send through that node.",
            code="sender_not_served_here",
            details={"serving_node": sender.serving_node},
        )
    check_attachments(package)
    signature, subject = signature_state(runtime, result, may_remote_sign=may_remote_sign)
    routes, results = routing.route_recipients(
        session,
        codes=[r.organ_id for r in package.to],
        node_code=runtime.settings.node_code,
        handover=runtime.handover,
        visited=(runtime.settings.node_code,),
        agencies=agencies,
    )
    routing.refuse_if_nothing_routed(routes, results)
    assert result.stream.raw_blob is not None
    stored_sha = result.stream.raw_blob.sha256
    if signature == "remote":
        stored_sha = _sign_remotely(runtime, package, agency_code, blobs=blobs)
    return Arrival(result, package, sender, signature, subject, routes, results, stored_sha)


def store_document(
    session: Session, *, runtime: Runtime, arrival: Arrival, into: Contribution
) -> tuple[dict[str, Any], bool]:
    """Store a checked document; returns its answer and whether it repeats a stored one."""
    package, sender, result = arrival.package, arrival.sender, arrival.result
    existing = session.scalars(
        select(Document).where(
            Document.sender_id == sender.id, Document.document_id == package.document_id
        )
    ).first()
    if existing is not None:
        if existing.package_sha256 == result.stream.sha256:
            return {"id": existing.id, **existing.intake_answer}, True
        raise Conflict(
            f"DocumentId {package.document_id} đã được dùng cho một gói tin khác của {sender.code}.",
            f"DocumentId {package.document_id} was already used by {sender.code} for a different package.",
            code="document_id_conflict",
            details={"document_id": package.document_id, "id": existing.id},
        )
    target = business.find_target(session, package, sender.id)
    document = new_document(
        session,
        result=result,
        sender=sender,
        stored_sha=arrival.stored_sha,
        signature=arrival.signature,
        signer_subject=arrival.signer_subject,
        target=target,
        trace=[trace_entry(runtime.settings.node_code)],
        answer={"document_id": package.document_id, "recipients": arrival.results},
    )
    registers.record_outgoing(session, document=document, sender=sender)
    pdfcheck.check_document(session, runtime=runtime, document=document)
    deliveries.place(
        session,
        runtime=runtime,
        document=document,
        routes=arrival.routes,
        arrivals=into.setdefault(ARRIVALS, []),
    )
    if target is not None:
        business.apply(session, runtime=runtime, document=document, target=target, package=package)
    answer = {"id": document.id, **document.intake_answer}
    into.setdefault(LOG, []).append(
        log_entry("in", "edoc", sender.code, package.document_id, result.stream.sha256)
    )
    return answer, False


def trace_entry(node: str) -> dict[str, str]:
    """One hop of a package's trace: the node and when it took the package (UTC, seconds)."""
    return {"node": node, "at": utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")}


def new_document(
    session: Session,
    *,
    result: ReadResult,
    sender: Agency,
    stored_sha: str,
    signature: str,
    signer_subject: str | None,
    target: Document | None,
    trace: list[dict[str, str]],
    arrived_from: str | None = None,
    answer: dict[str, Any] | None = None,
) -> Document:
    package = result.package
    assert isinstance(package, DocumentPackage)
    document = Document(
        sender_id=sender.id,
        document_id=package.document_id,
        package_sha256=result.stream.sha256,
        stored_sha256=stored_sha,
        package_size=result.stream.size,
        business_type=package.business.doc_type,
        target_id=target.id if target else None,
        subject=package.subject,
        code_number=package.code_number,
        code_notation=package.code_notation,
        type_name=package.type_name,
        priority=package.priority,
        promulgation_date=package.promulgation_date,
        due_date=package.due_date,
        signer_name=package.signer_full_name,
        signature=signature,
        signer_subject=signer_subject,
        received_at=utcnow(),
        # The answer to give a repeat of this package (its id is the row's own).
        intake_answer=answer or {},
        origin_node=trace[0]["node"] if trace else None,
        arrived_from=arrived_from,
        trace=trace,
    )
    session.add(document)
    session.flush()
    for position, attachment in enumerate(package.attachments):
        assert attachment.blob is not None
        session.add(
            DocumentAttachment(
                document_fk=document.id,
                position=position,
                content_id=attachment.content_id,
                name=attachment.attachment_name,
                content_type=attachment.content_type,
                description=attachment.description,
                blob_sha256=attachment.blob.sha256,
                size=attachment.blob.size,
            )
        )
    return document


def _sign_remotely(
    runtime: Runtime, package: DocumentPackage, agency_code: str, *, blobs: BlobStore
) -> str:
    identity = runtime.keys.identity(agency_code)
    if identity is None:  # pragma: no cover - signature_state chose remote only with a key
        raise Invalid(
            "Không có khóa ký từ xa.", "No remote signing key.", code="signature_required"
        )
    writer = blobs.writer()
    unsigned = dataclasses.replace(package, signature=None)
    try:
        for chunk in sign(
            lambda sig: write_document(
                unsigned, open_blob=lambda r: blobs.open(r.sha256), signature=sig
            ),
            identity,
        ):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish().sha256


@dataclass
class Received:
    """A package read and checked, and how to store it."""

    kind: str  # edoc, status
    store: Store
    blobs: TrackedBlobs


def take(
    session: Session,
    *,
    runtime: Runtime,
    chunks: Iterable[bytes],
    agency_code: str,
    may_remote_sign: bool,
    expect: str | None = None,
) -> Received:
    """Read and check any package (a document or a status) without writing to the database;
    `expect` ("edoc" or "status") refuses the other kind. The blobs written so far are
    discarded when anything refuses it, here or when it is stored."""
    blobs = TrackedBlobs(runtime.blobs)
    try:
        result = read_package(runtime, chunks, blobs=blobs)
        kind = "status" if isinstance(result.package, StatusPackage) else "edoc"
        if expect is not None and expect != kind:
            raise Invalid(
                f"messagetype={expect} nhưng gói tin là {kind}.",
                f"messagetype={expect} but the package is a {kind}.",
                code="messagetype_mismatch",
                details={"messagetype": expect, "package": kind},
            )
        if kind == "status":

            def store_status(session: Session, into: Contribution) -> tuple[dict[str, Any], bool]:
                return answers.receive_status_package(
                    session,
                    runtime=runtime,
                    result=result,
                    agency_code=agency_code,
                    may_remote_sign=may_remote_sign,
                    blobs=blobs,
                    log_entries=into.setdefault(LOG, []),
                )

            return Received(kind, store_status, blobs)
        arrival = prepare_document(
            session,
            runtime=runtime,
            result=result,
            agency_code=agency_code,
            may_remote_sign=may_remote_sign,
            blobs=blobs,
        )

        def store(session: Session, into: Contribution) -> tuple[dict[str, Any], bool]:
            return store_document(session, runtime=runtime, arrival=arrival, into=into)

        return Received(kind, store, blobs)
    except BaseException:
        blobs.discard()
        raise


def receive(
    session: Session,
    *,
    runtime: Runtime,
    chunks: Iterable[bytes],
    agency_code: str,
    may_remote_sign: bool,
    expect: str | None = None,
) -> tuple[dict[str, Any], bool, str]:
    """Take and store one package in the caller's transaction (the composer, the CLI, tests).
    Returns (answer, repeated, kind)."""
    received = take(
        session,
        runtime=runtime,
        chunks=chunks,
        agency_code=agency_code,
        may_remote_sign=may_remote_sign,
        expect=expect,
    )
    try:
        into: Contribution = {}
        answer, repeated = received.store(session, into)
        finish(session, into)
    except BaseException:
        received.blobs.discard()
        raise
    return answer, repeated, received.kind


def take_and_store(
    session: Session,
    *,
    runtime: Runtime,
    committer: GroupCommit | None,
    chunks: Iterable[bytes],
    agency_code: str,
    may_remote_sign: bool,
    expect: str | None = None,
) -> tuple[dict[str, Any], bool, str]:
    """For the API: read and check the package in this thread, then hand its storing to the
    group committer and wait for its batch to commit (or store it here when there is none).
    Runs in a worker thread."""
    if committer is None:
        return receive(
            session,
            runtime=runtime,
            chunks=chunks,
            agency_code=agency_code,
            may_remote_sign=may_remote_sign,
            expect=expect,
        )
    try:
        received = take(
            session,
            runtime=runtime,
            chunks=chunks,
            agency_code=agency_code,
            may_remote_sign=may_remote_sign,
            expect=expect,
        )
    finally:
        # The reads are done. Detach what was read (the sender, the recipients) with its loaded
        # state, so that the committer's session uses it without loading it again; then hold
        # no transaction while the batch writes (on SQLite one here would hold the write lock
        # the committer waits for).
        session.expunge_all()
        session.rollback()
    try:
        answer, repeated = committer.run(received.store)
    except BaseException:
        received.blobs.discard()
        raise
    return answer, repeated, received.kind


__all__ = ["Arrival", "Received", "finish", "receive", "take", "take_and_store"]
