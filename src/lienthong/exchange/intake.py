"""Intake: a package arrives, is verified, routed and stored in one transaction, or refused
whole with nothing stored: the blobs it wrote (the package, its attachments, a remote
signature) are discarded on refusal, unless another package has claimed the same content
(kernel/blobs.py); whatever a crash leaves is for the blob collector."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import log, routing
from lienthong.exchange.edxml.errors import EdxmlError, refuse
from lienthong.exchange.edxml.model import DocumentPackage, StatusPackage
from lienthong.exchange.edxml.reader import ReadResult, read
from lienthong.exchange.edxml.signature import sign, verify
from lienthong.exchange.edxml.stream import Limits
from lienthong.exchange.edxml.writer import write_document
from lienthong.exchange.models import Delivery, Document, DocumentAttachment
from lienthong.kernel import jobs
from lienthong.kernel.blobs import BlobStore, TrackedBlobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Conflict, Forbidden, Invalid
from lienthong.registry import service as registry
from lienthong.registry.models import Agency
from lienthong.runtime import Runtime

DELIVER_JOB = "exchange.deliver"


def read_package(
    runtime: Runtime, chunks: Iterable[bytes], *, blobs: BlobStore | None = None
) -> ReadResult:
    settings = runtime.settings
    blobs = blobs or runtime.blobs
    writer = blobs.writer()
    try:
        result = read(
            chunks,
            blobs=blobs,
            limits=Limits(max_bytes=settings.max_package_bytes),
            digest_algorithms=("sha256", "sha1") if settings.allow_sha1 else ("sha256",),
            raw=writer,
        )
    except BaseException:
        writer.abort()
        raise
    return result


def check_sender(result: ReadResult, agency_code: str) -> None:
    sender = result.package.from_.organ_id
    if sender != agency_code:
        raise Forbidden(
            f"From/OrganId là {sender} nhưng thông tin xác thực là của {agency_code}: "
            "chỉ gửi được văn bản của chính cơ quan mình.",
            f"From/OrganId is {sender} but the credentials are {agency_code}'s: "
            "an agency may only send its own packages.",
            code="sender_mismatch",
            details={"from": sender, "authenticated": agency_code},
        )


def signature_state(
    runtime: Runtime, result: ReadResult, *, may_remote_sign: bool
) -> tuple[str, str | None]:
    """verified (with the signer's subject), remote (the node will sign) or unsigned."""
    package = result.package
    if package.signature is not None:
        leaf = verify(
            package.signature,
            result.stream,
            sender_code=package.from_.organ_id,
            keys=runtime.keys,
            allow_sha1=runtime.settings.allow_sha1,
            served_by=runtime.settings.node_code,
        )
        return "verified", leaf.subject.rfc4514_string()
    if may_remote_sign and runtime.keys.identity(package.from_.organ_id) is not None:
        return "remote", None
    if runtime.settings.signature_required:
        raise refuse(
            "signature_required",
            "Gói tin phải được ký số (XML-DSig). Cơ quan chưa có chữ ký số có thể bật ký số từ xa.",
            "The package must carry an XML-DSig signature; agencies without a token can enable remote signing.",
        )
    return "unsigned", None


def check_attachments(package: DocumentPackage) -> None:
    manifest = {m.content_id for m in package.manifest}
    bodies = {a.content_id for a in package.attachments}
    problems = []
    if manifest != bodies:
        problems.append(
            {
                "only_in_manifest": sorted(manifest - bodies),
                "only_in_body": sorted(bodies - manifest),
            }
        )
    empty = [a.content_id for a in package.attachments if a.blob is None]
    if problems or empty:
        raise refuse(
            "attachment_mismatch",
            "Danh mục tệp (edXMLManifest) và phần đính kèm (AttachmentEncoded) không khớp theo ContentId.",
            "The manifest (edXMLManifest) and the attachments (AttachmentEncoded) disagree on ContentId.",
            mismatch=problems,
            without_content=empty,
        )


def receive_document(
    session: Session,
    *,
    runtime: Runtime,
    result: ReadResult,
    agency_code: str,
    may_remote_sign: bool,
    blobs: BlobStore | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a document package; returns the answer and whether it is a repeat of a stored one."""
    package = result.package
    assert isinstance(package, DocumentPackage)
    blobs = blobs or runtime.blobs
    check_sender(result, agency_code)
    sender = registry.get_agency(session, code=agency_code)
    if sender.serving_node != runtime.settings.node_code:
        raise Forbidden(
            f"{sender.code} do nút {sender.serving_node} phục vụ: hãy gửi qua nút đó.",
            f"{sender.code} is served by node {sender.serving_node}: send through that node.",
            code="sender_not_served_here",
            details={"serving_node": sender.serving_node},
        )
    existing = session.scalars(
        select(Document).where(
            Document.sender_id == sender.id, Document.document_id == package.document_id
        )
    ).first()
    if existing is not None:
        if existing.package_sha256 == result.stream.sha256:
            return existing.intake_answer, True
        raise Conflict(
            f"DocumentId {package.document_id} đã được dùng cho một gói tin khác của {agency_code}.",
            f"DocumentId {package.document_id} was already used by {agency_code} for a different package.",
            code="document_id_conflict",
            details={"document_id": package.document_id, "id": existing.id},
        )
    check_attachments(package)
    signature, subject = signature_state(runtime, result, may_remote_sign=may_remote_sign)
    routes, results = route_recipients(
        session,
        codes=[r.organ_id for r in package.to],
        node_code=runtime.settings.node_code,
        visited=(runtime.settings.node_code,),
    )
    refuse_if_nothing_routed(routes, results)
    target = find_target(session, package, sender.id)
    assert result.stream.raw_blob is not None
    stored_sha = result.stream.raw_blob.sha256
    if signature == "remote":
        stored_sha = _sign_remotely(runtime, package, agency_code, blobs=blobs)
    document = new_document(
        session,
        result=result,
        sender=sender,
        stored_sha=stored_sha,
        signature=signature,
        signer_subject=subject,
        target=target,
        trace=[trace_entry(runtime.settings.node_code)],
    )
    create_deliveries(session, runtime=runtime, document=document, routes=routes)
    if target is not None:
        from lienthong.exchange import service

        service.apply_business(
            session, runtime=runtime, document=document, target=target, package=package
        )
    answer = {"id": document.id, "document_id": package.document_id, "recipients": results}
    document.intake_answer = answer
    log.append(
        session,
        direction="in",
        kind="edoc",
        sender_code=agency_code,
        document_id=package.document_id,
        package_sha256=result.stream.sha256,
    )
    return answer, False


def trace_entry(node: str) -> dict[str, str]:
    """One hop of a package's trace: the node and when it took the package (UTC, seconds)."""
    return {"node": node, "at": utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")}


def route_recipients(
    session: Session, *, codes: Iterable[str], node_code: str, visited: Collection[str]
) -> tuple[list[routing.Route], list[dict[str, Any]]]:
    """Each recipient code resolved once: the routes to deliver on, and the answer per code.
    `visited` are the nodes the package has passed, which it must not return to."""
    routes: list[routing.Route] = []
    seen: set[int] = set()
    results: list[dict[str, Any]] = []
    for code in codes:
        route = routing.resolve(session, code=code, node_code=node_code, visited=visited)
        if route.agency is not None and route.agency.id in seen:
            results.append({"code": code, "result": "duplicate", "delivered_to": route.agency.code})
            continue
        if route.agency is not None:
            seen.add(route.agency.id)
            routes.append(route)
            results.append(
                {
                    "code": code,
                    "result": "accepted",
                    "delivered_to": route.agency.code,
                    "route": route.route,
                    "note": route.note_vi,
                    "note_en": route.note_en,
                }
            )
        else:
            results.append(
                {
                    "code": code,
                    "result": "refused",
                    "error": route.refused_code,
                    "message": route.refused_vi,
                    "message_en": route.refused_en,
                    "successor_codes": route.successors,
                }
            )
    return routes, results


def refuse_if_nothing_routed(routes: list[routing.Route], results: list[dict[str, Any]]) -> None:
    if routes:
        return
    refused = [r for r in results if r["result"] == "refused"]
    if not refused:
        raise Invalid(
            "Gói tin không có cơ quan nhận.",
            "The package names no recipient.",
            code="no_valid_recipient",
            details={"recipients": results},
        )
    codes = {r["error"] for r in refused}
    first = refused[0]
    raise Invalid(
        first["message"]
        if len(results) == 1
        else "Không có cơ quan nhận nào hợp lệ; gói tin không được lưu.",
        first["message_en"]
        if len(results) == 1
        else "No recipient is valid; the package was not stored.",
        code=codes.pop() if len(codes) == 1 else "no_valid_recipient",
        details={"recipients": results},
    )


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
        intake_answer={},
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


def create_deliveries(
    session: Session, *, runtime: Runtime, document: Document, routes: list[routing.Route]
) -> list[Delivery]:
    """One delivery per recipient: local ones queued for the inbox, the others for their node."""
    now = utcnow()
    created = []
    remote: list[tuple[Delivery, Agency]] = []
    for route in routes:
        assert route.agency is not None
        waiting = route.route == "federation"
        delivery = Delivery(
            document_fk=document.id,
            recipient_id=route.agency.id,
            addressed_code=route.addressed_code,
            route=route.route,
            note=route.note_vi,
            state="waiting" if waiting else "pending",
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        created.append(delivery)
        if waiting:
            remote.append((delivery, route.agency))
        else:
            jobs.enqueue(
                session,
                kind=DELIVER_JOB,
                payload={"delivery_id": delivery.id},
                max_attempts=runtime.settings.job_max_attempts,
            )
    if remote:
        from lienthong.federation import outbox

        outbox.queue_document(session, runtime=runtime, document=document, targets=remote)
    return created


def find_target(session: Session, package: DocumentPackage, sender_id: int) -> Document | None:
    """The document a recall (1), update (2) or replacement (3) is about: each names it in its
    own place (§5 of the reference)."""
    kind = package.business.doc_type
    if kind == 0:
        return None
    candidates: list[str | None] = []
    if kind == 1:
        candidates = [r.document_id for r in package.response_for]
    elif kind == 2:
        candidates = [package.business.document_id]
    elif kind == 3:
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


def _sign_remotely(
    runtime: Runtime, package: DocumentPackage, agency_code: str, *, blobs: BlobStore
) -> str:
    identity = runtime.keys.identity(agency_code)
    if identity is None:  # pragma: no cover - checked by signature_state
        raise AppError(
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


def receive(
    session: Session,
    *,
    runtime: Runtime,
    chunks: Iterable[bytes],
    agency_code: str,
    may_remote_sign: bool,
    expect: str | None = None,
) -> tuple[dict[str, Any], bool, str]:
    """Any package: a document or a status. Returns (answer, repeated, kind). `expect`
    ("edoc" or "status") refuses the other kind before anything is stored. On refusal the
    blobs this package wrote are discarded."""
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
        if isinstance(result.package, StatusPackage):
            from lienthong.exchange import statuses  # statuses builds on intake's checks

            answer, repeated = statuses.receive_status_package(
                session,
                runtime=runtime,
                result=result,
                agency_code=agency_code,
                may_remote_sign=may_remote_sign,
                blobs=blobs,
            )
        else:
            answer, repeated = receive_document(
                session,
                runtime=runtime,
                result=result,
                agency_code=agency_code,
                may_remote_sign=may_remote_sign,
                blobs=blobs,
            )
    except BaseException:
        blobs.discard()
        raise
    return answer, repeated, kind


__all__ = ["DELIVER_JOB", "EdxmlError", "read_package", "receive", "receive_document"]
