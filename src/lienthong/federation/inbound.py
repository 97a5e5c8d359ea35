"""Packages handed over by a peer: checked like any package (the sender's own signature must
verify), delivered to this node's recipients or passed on, and never stored twice: the origin
agency and DocumentId identify a document wherever it travels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import (
    answers,
    business,
    deliveries,
    intake,
    log,
    pdfcheck,
    routing,
)
from lienthong.exchange.edxml.errors import refuse
from lienthong.exchange.edxml.model import DocumentPackage, Organization, StatusPackage
from lienthong.exchange.edxml.reader import ReadResult
from lienthong.exchange.edxml.signature import verify
from lienthong.exchange.models import Delivery, Document
from lienthong.exchange.reading import check_attachments, read_package
from lienthong.federation import directory
from lienthong.federation.models import Peer
from lienthong.kernel.blobs import TrackedBlobs
from lienthong.kernel.errors import Conflict, Forbidden
from lienthong.registry import service as registry
from lienthong.registry.codes import parse_code
from lienthong.registry.models import Agency, AgencyKind
from lienthong.registry.schemas import AgencyCreate
from lienthong.runtime import Runtime


def accept(
    session: Session,
    *,
    runtime: Runtime,
    peer_code: str,
    chunks: Iterable[bytes],
    recipients: list[str],
    trace: list[dict[str, str]],
    digest: bytes | None,
) -> tuple[dict[str, Any], bool]:
    """Take one package from a peer. Returns the receipt body and whether it was a repeat.
    A refused package leaves none of the blobs it wrote."""
    blobs = TrackedBlobs(runtime.blobs)
    try:
        return _accept(
            session,
            runtime=runtime,
            blobs=blobs,
            peer_code=peer_code,
            chunks=chunks,
            recipients=recipients,
            trace=trace,
            digest=digest,
        )
    except BaseException:
        blobs.discard()
        raise


def _accept(
    session: Session,
    *,
    runtime: Runtime,
    blobs: TrackedBlobs,
    peer_code: str,
    chunks: Iterable[bytes],
    recipients: list[str],
    trace: list[dict[str, str]],
    digest: bytes | None,
) -> tuple[dict[str, Any], bool]:
    result = read_package(runtime, chunks, blobs=blobs)
    if digest is not None and bytes.fromhex(result.stream.sha256) != digest:
        raise refuse(
            "digest_mismatch",
            "Nội dung nhận được không khớp Content-Digest đã ký: gói tin bị hỏng trên đường.",
            "The body does not match the signed Content-Digest: it was damaged on the way.",
        )
    here = [*trace, intake.trace_entry(runtime.settings.node_code)]
    package = result.package
    if isinstance(package, StatusPackage):
        answer, repeated = answers.receive_status_package(
            session,
            runtime=runtime,
            result=result,
            agency_code=package.from_.organ_id,
            may_remote_sign=False,
            peer_trace=here,
            blobs=blobs,
        )
        return {"kind": "status", "package_sha256": result.stream.sha256, **answer}, repeated
    assert isinstance(package, DocumentPackage)
    return accept_document(
        session,
        runtime=runtime,
        result=result,
        peer_code=peer_code,
        recipients=recipients,
        trace=here,
    )


def _cut(value: str | None, limit: int) -> str | None:
    """The package's own contact fields, cut to what the registry holds."""
    return value.strip()[:limit] or None if value else None


def _sender(
    session: Session, organization: Organization, peer: str, national: bool, own: str
) -> Agency:
    """The sending agency; one this node has not heard of yet (the directory catches up later)
    is recorded from the package's own From, served by the peer that handed it over (the route
    back), and only in that peer's own code range unless the peer is the national axis."""
    agency = registry.find_agency(session, code=organization.organ_id)
    if agency is None:
        if not national and not directory.in_code_range(peer, organization.organ_id):
            raise Forbidden(
                f"Nút {peer} không phục vụ cơ quan {organization.organ_id}, chưa có trong danh bạ.",
                f"Node {peer} does not serve {organization.organ_id}, which is not in the directory.",
                code="unknown_sender",
                details={"code": organization.organ_id, "peer": peer},
            )
        code = str(parse_code(organization.organ_id))
        agency = registry.create_agency(
            session,
            data=AgencyCreate(
                code=code,
                name=_cut(organization.organ_name, 255) or code,
                kind=AgencyKind.OTHER,
                serving_node=peer,
                organization_in_charge=_cut(organization.organization_in_charge, 255),
                address=_cut(organization.organ_add, 255),
                email=_cut(organization.email, 255),
                phone=_cut(organization.telephone, 64),
                fax=_cut(organization.fax, 64),
                website=_cut(organization.website, 255),
            ),
            actor=f"node:{peer}",
            default_node=peer,
        )
    if agency.serving_node == own:
        raise Forbidden(
            f"{agency.code} do chính nút này phục vụ: nút khác không gửi thay được.",
            f"{agency.code} is served by this node: another node cannot send on its behalf.",
            code="sender_is_local",
        )
    return agency


def accept_document(
    session: Session,
    *,
    runtime: Runtime,
    result: ReadResult,
    peer_code: str,
    recipients: list[str],
    trace: list[dict[str, str]],
) -> tuple[dict[str, Any], bool]:
    package = result.package
    assert isinstance(package, DocumentPackage)
    own = runtime.settings.node_code
    national = bool(session.scalar(select(Peer.national).where(Peer.code == peer_code)))
    sender = _sender(session, package.from_, peer_code, national, own)
    existing = session.scalars(
        select(Document).where(
            Document.sender_id == sender.id, Document.document_id == package.document_id
        )
    ).first()
    if existing is not None and existing.package_sha256 != result.stream.sha256:
        raise Conflict(
            f"DocumentId {package.document_id} của {sender.code} đã đến với nội dung khác.",
            f"DocumentId {package.document_id} of {sender.code} already arrived with other content.",
            code="document_id_conflict",
            details={"document_id": package.document_id},
        )
    addressed = {o.organ_id.strip().upper() for o in package.to}
    strays = [c for c in recipients if c.strip().upper() not in addressed]
    if strays or not recipients:
        raise Forbidden(
            "Nút chuyển tiếp chỉ được giao văn bản cho cơ quan có trong To của chính gói tin.",
            "A node may hand a package over only for recipients named in the package's own To.",
            code="recipient_not_addressed",
            details={"not_in_to": strays},
        )
    check_attachments(package)
    if package.signature is None:
        if runtime.settings.signature_required:
            raise refuse(
                "signature_required",
                "Gói tin chuyển qua nút khác phải mang chữ ký số của cơ quan gửi.",
                "A package handed over by another node must carry the sender's signature.",
            )
        signature, subject = "unsigned", None
    else:
        leaf = verify(
            package.signature,
            result.stream,
            sender_code=sender.code,
            keys=runtime.keys,
            allow_sha1=runtime.settings.allow_sha1,
            served_by=sender.serving_node,
        )
        signature, subject = "verified", leaf.subject.rfc4514_string()
    routes, results = routing.route_recipients(
        session,
        codes=recipients,
        node_code=own,
        handover=runtime.handover,
        visited={t["node"] for t in trace},
    )
    if existing is not None:
        have = set(
            session.scalars(
                select(Delivery.recipient_id).where(Delivery.document_fk == existing.id)
            )
        )
        fresh = [r for r in routes if r.agency is not None and r.agency.id not in have]
        for answer in results:
            if answer["result"] == "accepted" and not any(
                r.agency is not None and r.agency.code == answer["delivered_to"] for r in fresh
            ):
                answer["result"] = "duplicate"
        if not fresh:
            return _answer(existing, results, own), True
        routes = fresh
    else:
        routing.refuse_if_nothing_routed(routes, results)
    document = existing
    if document is None:
        target = business.find_target(session, package, sender.id)
        assert result.stream.raw_blob is not None
        document = intake.new_document(
            session,
            result=result,
            sender=sender,
            stored_sha=result.stream.raw_blob.sha256,
            signature=signature,
            signer_subject=subject,
            target=target,
            trace=trace,
            arrived_from=peer_code,
        )
        document.intake_answer = {}
        pdfcheck.check_document(session, runtime=runtime, document=document)
        if target is not None:
            business.apply(
                session, runtime=runtime, document=document, target=target, package=package
            )
    deliveries.place(session, runtime=runtime, document=document, routes=routes)
    log.append_many(
        session,
        [intake.log_entry("in", "edoc", sender.code, package.document_id, result.stream.sha256)],
    )
    return _answer(document, results, own), existing is not None


def _answer(document: Document, results: list[dict[str, Any]], own: str) -> dict[str, Any]:
    return {
        "kind": "edoc",
        "node": own,
        "id": document.id,
        "document_id": document.document_id,
        "package_sha256": document.package_sha256,
        "recipients": results,
        "trace": document.trace,
    }
