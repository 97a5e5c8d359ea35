"""Native JSON API of the document axis."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lienthong.accounts.deps import Acting, CurrentPrincipal, acting_for, role_refused
from lienthong.accounts.models import SOFTWARE, Role
from lienthong.accounts.service import Principal
from lienthong.exchange import answers, intake, pdfcheck, service, validation
from lienthong.exchange import statuses as sc
from lienthong.exchange.edxml.model import StaffInfo
from lienthong.exchange.models import Delivery, Document
from lienthong.exchange.schemas import (
    CheckReport,
    DocumentAnswer,
    DocumentDetail,
    InboxPage,
    SentPage,
    StatusAnswer,
    StatusRecorded,
)
from lienthong.exchange.spool import chunks, spool
from lienthong.kernel.errors import NotFound
from lienthong.registry import service as registry
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.registry.models import Agency
from lienthong.web.deps import DB, IsoDate, NodeRuntime, Pk
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, binary, errors, raw_body

router = APIRouter(prefix="/api/v1", tags=["documents"])
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
PageNo = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]
AgencyParam = Annotated[str | None, Query(alias="agency", max_length=64)]


# Who does what on the document axis: clerks (văn thư) and the agency's own software send,
# receive and answer statuses; leaders read and assign (04); other roles (one-stop officers,
# administrators) have no part in official correspondence.
READERS = (Role.CLERK, Role.LEADER)
Reader = Annotated[Acting, Depends(acting_for(Role.CLERK, Role.LEADER, software=True))]
Clerk = Annotated[Acting, Depends(acting_for(Role.CLERK, software=True))]
StatusAuthor = Annotated[Acting, Depends(acting_for(Role.CLERK, Role.LEADER, software=True))]


def readable_agencies(principal: Principal) -> list[str]:
    """The agencies whose documents this caller may read; none at all is a 403."""
    codes = principal.agencies_in(*READERS, SOFTWARE)
    if not codes:
        raise role_refused(READERS, True, None)
    return codes


def check_status_role(acting: Acting, code: str) -> None:
    """Leaders assign (04); every other status is the clerk's or the software's."""
    if acting.role == Role.LEADER and code != sc.ASSIGNED:
        raise role_refused((Role.CLERK,), True, acting.agency_code)


def document_json(document: Document, sender: Agency, **extra: Any) -> dict[str, Any]:
    return {
        "id": document.id,
        "document_id": document.document_id,
        "sender_code": sender.code,
        "sender_name": sender.name,
        "subject": document.subject,
        "code_number": document.code_number,
        "code_notation": document.code_notation,
        "type_name": document.type_name,
        "priority": document.priority,
        "promulgation_date": document.promulgation_date,
        "due_date": document.due_date,
        "business_type": document.business_type,
        "signature": document.signature,
        "signer_subject": document.signer_subject,
        "received_at": document.received_at,
        "replaced_by": document.replaced_by_id,
        "origin_node": document.origin_node,
        "trace": document.trace,
        **extra,
    }


def delivery_json(delivery: Delivery, recipient: Agency | None = None) -> dict[str, Any]:
    out = {
        "delivery_id": delivery.id,
        "state": delivery.state,
        "route": delivery.route,
        "note": delivery.note,
        "status_code": delivery.status_code,
        "status": sc.label(delivery.status_code),
        "status_at": delivery.status_at,
        "pending_request": delivery.pending_request,
        "addressed_code": delivery.addressed_code,
        "delivered_at": delivery.delivered_at,
        "read": delivery.read_at is not None,
    }
    if recipient is not None:
        out.update(recipient_code=recipient.code, recipient_name=recipient.name)
    return out


EDXML = raw_body("application/xml", "An edXML document or status package (QCVN 102:2016)")
READ = {**SIGNED_IN, **errors(404)}


@router.post(
    "/documents",
    status_code=202,
    response_model=DocumentAnswer | StatusAnswer,
    responses={**SIGNED_IN, **WITH_BODY, **errors(404, 409)},
    openapi_extra=EDXML,
)
async def send_document(
    request: Request, db: DB, runtime: NodeRuntime, acting: Clerk
) -> JSONResponse:
    """Body: an edXML document (or status) package."""
    code, principal = acting.agency_code, acting.principal
    # Authentication read the database: end that transaction before waiting for the body, so
    # that on SQLite no write lock is held while a large package uploads.
    db.rollback()
    body = await spool(request.stream(), limit=runtime.settings.max_package_bytes)
    try:
        answer, repeated, _ = await run_in_threadpool(
            intake.take_and_store,
            db,
            runtime=runtime,
            committer=request.app.state.intake_committer,
            chunks=chunks(body),
            agency_code=code,
            may_remote_sign=principal.kind == "system",
        )
    finally:
        body.close()
    return JSONResponse(
        answer, status_code=202, headers={"X-Lienthong-Repeat": "true"} if repeated else None
    )


@router.post(
    "/edxml/validate",
    response_model=CheckReport,
    responses={**WITH_BODY, **errors(429)},
    openapi_extra=EDXML,
)
async def validate_package(request: Request, runtime: NodeRuntime) -> dict[str, Any]:
    """Everything wrong with a package (element, rule, how to fix), without storing it."""
    body = await spool(request.stream(), limit=runtime.settings.max_package_bytes)
    try:
        return await run_in_threadpool(validation.validate, runtime, chunks(body))
    finally:
        body.close()


@router.get("/documents/inbox", response_model=InboxPage, responses=SIGNED_IN)
def list_inbox(
    db: DB,
    acting: Reader,
    status: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
    priority: Annotated[int | None, Query(ge=0, le=4)] = None,
    sender: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
    unread: bool | None = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    owner = registry.get_agency(db, code=acting.agency_code)
    rows, total = service.inbox(
        db,
        agency=owner,
        filters=service.InboxFilter(status, priority, sender, date_from, date_to, unread),
        page=page,
        page_size=page_size,
    )
    return {
        "items": [document_json(d, s, **delivery_json(dl)) for dl, d, s in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
        "unread": service.count_unread(db, agency=owner),
    }


@router.get("/documents/sent", response_model=SentPage, responses=SIGNED_IN)
def list_sent(
    db: DB,
    acting: Reader,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    owner = registry.get_agency(db, code=acting.agency_code)
    rows, total = service.sent(db, agency=owner, page=page, page_size=page_size)
    return {
        "items": [
            document_json(d, owner, recipients=[delivery_json(dl, r) for dl, r in recipients])
            for d, recipients in rows
        ],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/documents/{document_pk}", response_model=DocumentDetail, responses=READ)
def get_document(document_pk: Pk, db: DB, principal: CurrentPrincipal) -> dict[str, Any]:
    document, delivery = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    sender = db.get_one(Agency, document.sender_id)
    if delivery is not None:
        service.mark_read(delivery)
    deliveries = service.deliveries_of(db, document)
    own = [(d, r) for d, r in deliveries if delivery is None or d.id == delivery.id]
    statuses = service.history(db, [d.id for d, _ in own])
    return document_json(
        document,
        sender,
        attachments=[
            {
                "position": a.position,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.blob_sha256,
                "description": a.description,
            }
            for a in service.attachments(db, document)
        ],
        recipients=[
            {
                **delivery_json(d, r),
                "history": [
                    {
                        "code": s.code,
                        "status": sc.label(s.code),
                        "description": s.description,
                        "at": s.at,
                    }
                    for s in statuses[d.id]
                ],
            }
            for d, r in own
        ],
        pdf_signatures=pdfcheck.summary(pdfcheck.checks_of(db, [document.id])[document.id]),
    )


@router.get(
    "/documents/{document_pk}/package",
    response_class=StreamingResponse,
    responses={**binary("application/xml", "The package as kept (signed)"), **READ},
)
def get_package(
    document_pk: Pk, db: DB, runtime: NodeRuntime, principal: CurrentPrincipal
) -> StreamingResponse:
    document, _ = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    handle = runtime.blobs.open(document.stored_sha256)
    return StreamingResponse(
        chunks(handle),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{document.id}.edxml"'},
    )


@router.get(
    "/documents/{document_pk}/attachments/{position}",
    response_class=StreamingResponse,
    responses={
        **binary("application/octet-stream", "The attachment (PDF and images inline)"),
        **READ,
    },
)
def get_attachment(
    document_pk: Pk,
    position: Annotated[int, Path(ge=0, le=10_000)],
    db: DB,
    runtime: NodeRuntime,
    principal: CurrentPrincipal,
) -> StreamingResponse:
    document, _ = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    attachment = next(
        (a for a in service.attachments(db, document) if a.position == position), None
    )
    if attachment is None:
        raise NotFound(
            "Không có tệp đính kèm này.", "No such attachment.", code="unknown_attachment"
        )
    handle = runtime.blobs.open(attachment.blob_sha256)
    # The sender names the content type: only types a browser shows safely are served inline
    # (a "text/html" attachment would otherwise run in this site's origin).
    declared = (attachment.content_type or "").lower()
    media = declared if declared in INLINE_TYPES else "application/octet-stream"
    disposition = "inline" if media in INLINE_TYPES else "attachment"
    name = (attachment.name or f"attachment-{position}").replace('"', "")
    return StreamingResponse(
        chunks(handle),
        media_type=media,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(attachment.size),
        },
    )


class StatusIn(BaseModel):
    code: str = Field(pattern=r"^\d{2}$")
    description: str | None = Field(default=None, max_length=2000)
    staff: str | None = Field(default=None, max_length=200)
    department: str | None = Field(default=None, max_length=200)
    recipients: list[str] | None = Field(default=None, max_length=500)


@router.post(
    "/documents/{document_pk}/status",
    status_code=201,
    response_model=StatusRecorded,
    responses={**READ, **WITH_BODY, **errors(409)},
)
def post_status(
    document_pk: Pk, data: StatusIn, db: DB, runtime: NodeRuntime, acting: StatusAuthor
) -> dict[str, Any]:
    check_status_role(acting, data.code)
    code = acting.agency_code
    staff = (
        StaffInfo(department=data.department, staff=data.staff)
        if data.staff or data.department
        else None
    )
    rows = answers.post_status(
        db,
        runtime=runtime,
        document_pk=document_pk,
        agency_code=code,
        code=data.code,
        description=data.description,
        staff=staff,
        recipients=data.recipients,
    )
    return {"recorded": len(rows), "code": data.code, "status": sc.label(data.code)}


class RecallIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    recipients: list[str] | None = Field(default=None, max_length=500)


@router.post(
    "/documents/{document_pk}/recall",
    status_code=201,
    response_model=StatusRecorded,
    responses={**READ, **WITH_BODY, **errors(409)},
)
def recall(
    document_pk: Pk, data: RecallIn, db: DB, runtime: NodeRuntime, acting: Clerk
) -> dict[str, Any]:
    code = acting.agency_code
    rows = answers.post_status(
        db,
        runtime=runtime,
        document_pk=document_pk,
        agency_code=code,
        code=sc.RECALL_REQUESTED,
        description=data.reason,
        recipients=data.recipients,
    )
    return {
        "recorded": len(rows),
        "code": sc.RECALL_REQUESTED,
        "status": sc.label(sc.RECALL_REQUESTED),
    }
