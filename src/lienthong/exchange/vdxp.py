"""Endpoints of the national axis (VDXP) client SDK, so that vendor software built on it
connects by changing its base URL. Calls are authenticated with the SDK's XroadVnpt-* HMAC
headers and answered in the field names the SDK reads (status, ErrorCode, ErrorDesc, …)."""

from __future__ import annotations

import base64
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lienthong.accounts import service as accounts
from lienthong.accounts.service import Principal
from lienthong.exchange import intake
from lienthong.exchange import statuses as sc
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.spool import chunks, ends_with, length, sha256_of, spool
from lienthong.exchange.vdxp_auth import (
    VdxpAuthError,
    VerifiedCall,
    check_timestamp,
    file_hash_matches,
    verify,
)
from lienthong.kernel.clock import LOCAL_ZONE
from lienthong.kernel.errors import AppError
from lienthong.registry.models import Agency, AgencyStatus
from lienthong.runtime import Runtime
from lienthong.web.deps import DB, NodeRuntime
from lienthong.web.events import tell_refusal
from lienthong.web.openapi import EVERYWHERE, binary, errors, raw_body


class VdxpAnswer(BaseModel):
    """Every answer in the SDK's own shape: `status` OK or FAIL, `ErrorCode`, `ErrorDesc`, and
    the call's fields (`DocId`, `data`, `count` …)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["OK", "FAIL"]
    ErrorCode: str
    ErrorDesc: str


_SDK_FAILURES: dict[int | str, dict[str, Any]] = {
    code: {"model": VdxpAnswer, "description": description}
    for code, description in (
        (400, "A header or parameter the SDK sends is wrong (hash_mismatch, invalid_ack …)"),
        (401, "The XroadVnpt-* signature does not authenticate the call"),
        (403, "Not this agency's to do"),
        (404, "No such package for this agency"),
        (409, "Conflicts with what is stored (a DocumentId reused …)"),
        (413, "The package is over the size limit"),
        (422, "The package breaks a rule of QCVN 102"),
        (429, "Too many failed calls; see Retry-After"),
    )
}
DOWNLOAD = binary("application/octet-stream", "The package, as kept")
SDK_RESPONSES = {**EVERYWHERE, **errors(408, 415), **_SDK_FAILURES}
router = APIRouter(tags=["national axis (VDXP) compatible"], responses=SDK_RESPONSES)
ACKS = {"done", "fail", "processing"}


class VdxpError(AppError):
    status_code = 400


def ok(**fields: Any) -> dict[str, Any]:
    return {"status": "OK", "ErrorCode": "0", "ErrorDesc": "", **fields}


def fail(exc: AppError | VdxpAuthError, status: int, **fields: Any) -> JSONResponse:
    code = exc.code
    return JSONResponse(
        {
            "status": "FAIL",
            "ErrorCode": code,
            "ErrorDesc": exc.message_vi,
            **fields,
            "error": {"code": code, "message": exc.message_vi, "message_en": exc.message_en},
        },
        status_code=status,
        headers=getattr(exc, "headers", None),
    )


def authenticate(request: Request, db: Session, runtime: Runtime) -> tuple[VerifiedCall, Principal]:
    box = runtime.keys.secret_box()
    found: dict[str, accounts.SharedSecret] = {}

    def secret_for(system_id: str) -> str | None:
        match = accounts.shared_secret(db, system_id=system_id, unseal=box.decrypt)
        if match is None:
            return None
        found[system_id] = match
        return match.secret

    call = verify(request.headers, secret_for=secret_for, zone=LOCAL_ZONE)
    credential = found[call.system_id]
    if credential.max_skew_seconds is not None:
        zone = ZoneInfo(credential.clock_zone) if credential.clock_zone else LOCAL_ZONE
        check_timestamp(
            call.signed, now=None, max_skew_seconds=credential.max_skew_seconds, zone=zone
        )
    return call, credential.principal


def _agency(db: Session, principal: Principal) -> Agency:
    code = principal.grants[0].agency_code
    agency = db.scalars(select(Agency).where(Agency.code == code)).one()
    return agency


async def _guarded(
    request: Request, db: Session, runtime: Runtime, handler: Any, **on_error: Any
) -> Any:
    """Authenticate, run, and answer errors in the SDK's shape. An error answer is still a
    response, so the request's transaction would commit: roll it back first."""
    try:
        call, principal = authenticate(request, db, runtime)
        return await handler(call, principal)
    except VdxpAuthError as exc:
        db.rollback()
        tell_refusal(request, 401, exc.code)
        return fail(exc, 401, **on_error)
    except AppError as exc:
        db.rollback()
        tell_refusal(request, exc.status_code, exc.code)
        return fail(exc, exc.status_code, **on_error)


@router.post(
    "/sendEdoc",
    response_model=VdxpAnswer,
    openapi_extra=raw_body(
        "application/octet-stream", "The edXML package, then CRLF (as the SDK sends)"
    ),
)
async def send_edoc(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        db.rollback()  # no lock held while the body uploads (see api.send_document)
        body = await spool(request.stream(), limit=runtime.settings.max_package_bytes + 2)
        try:
            # The SDK sends the file followed by CRLF and hashes the file alone. The body is
            # read from the spool in chunks, never held whole in memory.
            size = length(body)
            if ends_with(body, b"\r\n"):
                size -= 2
            if call.hash_file and not file_hash_matches(call.hash_file, sha256_of(body, size)):
                raise VdxpError(
                    "hash-file không khớp với nội dung gửi lên.",
                    "hash-file does not match the body.",
                    code="hash_mismatch",
                )
            kind = call.params.get("messagetype", "edoc")
            answer, _, _ = await run_in_threadpool(
                intake.take_and_store,
                db,
                runtime=runtime,
                committer=request.app.state.intake_committer,
                chunks=chunks(body, size),
                agency_code=principal.grants[0].agency_code,
                may_remote_sign=True,
                expect=kind if kind in ("edoc", "status") else None,
            )
            return ok(DocId=str(answer.get("id", "")), recipients=answer.get("recipients"))
        finally:
            body.close()

    # The SDK reads DocId first, error or not, and throws without it: always send it.
    return await _guarded(request, db, runtime, handle, DocId="")


def _received_edocs(db: Session, agency: Agency) -> list[tuple[Delivery, Document, Agency]]:
    rows = db.execute(
        select(Delivery, Document, Agency)
        .join(Document, Document.id == Delivery.document_fk)
        .join(Agency, Agency.id == Document.sender_id)
        .where(
            Delivery.recipient_id == agency.id,
            Delivery.state == "delivered",
            (Delivery.acked.is_(None)) | (Delivery.acked != "done"),
        )
        .order_by(Document.priority.desc(), Delivery.id)
        .limit(500)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _received_statuses(
    db: Session, agency: Agency
) -> list[tuple[DeliveryStatus, Document, Agency]]:
    rows = db.execute(
        select(DeliveryStatus, Document, Agency)
        .join(Delivery, Delivery.id == DeliveryStatus.delivery_id)
        .join(Document, Document.id == Delivery.document_fk)
        .join(Agency, Agency.id == DeliveryStatus.by_agency_id)
        .where(
            Document.sender_id == agency.id,
            DeliveryStatus.by_agency_id != agency.id,
            (DeliveryStatus.acked.is_(None)) | (DeliveryStatus.acked != "done"),
        )
        .order_by(DeliveryStatus.id)
        .limit(500)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _when(value: Any) -> str:
    return value.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M:%S") if value else ""


@router.post("/getReceivedEdocList", response_model=VdxpAnswer)
async def received_list(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        agency = _agency(db, principal)
        if call.params.get("messagetype", "edoc") == "status":
            data = [
                {
                    "docId": f"S{s.id}",
                    "serviceType": "eDoc",
                    "messageType": "status",
                    "from": by.code,
                    "to": agency.code,
                    "created_time": _when(s.at),
                    "updated_time": _when(s.at),
                    "status": s.code,
                    "status_desc": sc.label(s.code),
                }
                for s, _, by in _received_statuses(db, agency)
            ]
        else:
            data = [
                {
                    "docId": f"E{d.id}",
                    "serviceType": "eDoc",
                    "messageType": "edoc",
                    "from": sender.code,
                    "to": agency.code,
                    "created_time": _when(d.delivered_at),
                    "updated_time": _when(d.status_at),
                    "status": d.acked or "initial",
                    "status_desc": doc.subject or "",
                }
                for d, doc, sender in _received_edocs(db, agency)
            ]
        return ok(data=data)

    return await _guarded(request, db, runtime, handle)


def _find(db: Session, agency: Agency, doc_id: str) -> tuple[str, Any, str]:
    """(kind, row, blob sha) for a docId this agency may fetch."""
    try:
        pk = int(doc_id.strip()[1:])
    except ValueError:
        pk = -1
    if doc_id.startswith("E"):
        delivery = db.get(Delivery, pk)
        if (
            delivery is not None
            and delivery.recipient_id == agency.id
            and delivery.state == "delivered"
        ):
            return "edoc", delivery, db.get_one(Document, delivery.document_fk).stored_sha256
    elif doc_id.startswith("S"):
        status = db.get(DeliveryStatus, pk)
        if status is not None and status.package_sha256:
            delivery = db.get_one(Delivery, status.delivery_id)
            if db.get_one(Document, delivery.document_fk).sender_id == agency.id:
                return "status", status, status.package_sha256
    raise VdxpError(
        f"Không có gói tin {doc_id} cho cơ quan này.",
        f"No package {doc_id} for this agency.",
        code="unknown_document",
        status_code=404,
    )


@router.post("/getEdoc", response_model=VdxpAnswer)
async def get_edoc(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        doc_id = call.params.get("docid") or ""
        _, _, sha = _find(db, _agency(db, principal), doc_id)
        with runtime.blobs.open(sha) as handle_:
            data = handle_.read()
        return ok(data=base64.b64encode(data).decode(), docId=doc_id)

    return await _guarded(request, db, runtime, handle)


@router.get("/downloadEdoc", responses=DOWNLOAD)
@router.post("/downloadEdoc", responses=DOWNLOAD)
async def download_edoc(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        doc_id = call.params.get("docid") or ""
        _, _, sha = _find(db, _agency(db, principal), doc_id)
        return StreamingResponse(
            chunks(runtime.blobs.open(sha)),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{doc_id}.edxml"'},
        )

    return await _guarded(request, db, runtime, handle)


@router.post("/updateStatus", response_model=VdxpAnswer)
async def update_status(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        doc_id = call.params.get("docid") or ""
        value = (call.params.get("status") or "").lower()
        if value not in ACKS:
            raise VdxpError(
                f"status phải là done, fail hoặc processing (nhận được '{value}').",
                f"status must be done, fail or processing (got '{value}').",
                code="invalid_ack",
            )
        _, row, _ = _find(db, _agency(db, principal), doc_id)
        row.acked = value
        return ok()

    return await _guarded(request, db, runtime, handle)


@router.post("/getSentEdocList", response_model=VdxpAnswer)
async def sent_list(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        agency = _agency(db, principal)
        stmt = (
            select(Delivery, Document, Agency)
            .join(Document, Document.id == Delivery.document_fk)
            .join(Agency, Agency.id == Delivery.recipient_id)
            .where(Document.sender_id == agency.id)
        )
        wanted = call.params.get("docid")
        if wanted:
            stmt = stmt.where(
                Document.id == int(wanted) if wanted.isdigit() else Document.document_id == wanted
            )
        rows = db.execute(stmt.order_by(Document.id.desc(), Agency.code).limit(500)).all()
        data = [
            {
                "serviceType": "eDoc",
                "messageType": "edoc",
                "senderDocId": str(doc.id),
                "receiverDocId": f"E{d.id}",
                "fromCode": agency.code,
                "toCode": to.code,
                "title": doc.subject,
                "notation": "/".join(filter(None, (doc.code_number, doc.code_notation))),
                "sentTime": _when(doc.received_at),
                "receivedTime": _when(d.delivered_at),
                "sendStatus": "done" if d.state in ("delivered", "recalled") else d.state,
                "sendStatusDesc": d.note or "",
                "receiveStatus": d.status_code or "",
                "receiveStatusDesc": sc.label(d.status_code),
            }
            for d, doc, to in rows
        ]
        return ok(data=data)

    return await _guarded(request, db, runtime, handle)


@router.get("/countReceiveEdoc", response_model=VdxpAnswer)
@router.post("/countReceiveEdoc", response_model=VdxpAnswer)
async def count_edoc(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        return ok(count=len(_received_edocs(db, _agency(db, principal))))

    return await _guarded(request, db, runtime, handle)


@router.get("/countReceiveStatus", response_model=VdxpAnswer)
@router.post("/countReceiveStatus", response_model=VdxpAnswer)
async def count_status(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        return ok(count=len(_received_statuses(db, _agency(db, principal))))

    return await _guarded(request, db, runtime, handle)


@router.post("/getAgenciesList", response_model=VdxpAnswer)
async def agencies(request: Request, db: DB, runtime: NodeRuntime) -> Any:
    async def handle(call: VerifiedCall, principal: Principal) -> Any:
        rows = db.execute(
            select(Agency.id, Agency.parent_id, Agency.code, Agency.name, Agency.email)
            .where(Agency.status == AgencyStatus.ACTIVE.value)
            .order_by(Agency.code)
        ).all()
        total = db.scalar(select(func.count()).select_from(Agency)) or 0
        return ok(
            data=[
                {
                    "id": r.id,
                    "pid": r.parent_id or 0,
                    "code": r.code,
                    "name": r.name,
                    "mail": r.email or "",
                    "oldCode": "",
                    "code102": r.code,
                }
                for r in rows
            ],
            total=total,
        )

    return await _guarded(request, db, runtime, handle)
