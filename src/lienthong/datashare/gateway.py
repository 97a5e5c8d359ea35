"""The gateway: a consumer system's call to a service, checked against its grant, answered
with only the granted items, and logged whether allowed or refused (Art 40, 45).

X-Road's manner: the client system, a purpose (required for personal data: a dossier code),
a request id echoed with the hash of the request."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.datashare import access, catalogue
from lienthong.datashare.identifiers import check_subject
from lienthong.datashare.models import AccessGrant, Dataset, GrantState, ShareCall
from lienthong.datashare.providers import Page, Providers
from lienthong.datashare.sharelog import record
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Forbidden, Invalid, TooManyRequests
from lienthong.kernel.events import EventSink, node_event
from lienthong.kernel.ratelimit import RateLimiter, Rule
from lienthong.registry.models import Agency

MAX_LIMIT = 500


@dataclass(frozen=True)
class Call:
    dataset: str
    service: str
    system: str  # the calling system (its credential)
    agency_code: str  # the agency the credential belongs to
    purpose: str | None = None
    request_id: str | None = None
    key: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] | None = None
    cursor: int = 0
    offset: int = 0
    limit: int = 50
    path: str = ""
    query: str = ""
    request_size: int = 0
    source_ip: str | None = None


@dataclass(frozen=True)
class Served:
    body: dict[str, Any]
    request_id: str
    request_hash: str
    call_id: int


def request_hash(call: Call, request_id: str) -> str:
    text = "\n".join(["GET", call.path, call.query, call.system, call.purpose or "", request_id])
    return hashlib.sha256(text.encode()).hexdigest()


def _refuse(code: str, vi: str, en: str, **details: Any) -> Forbidden:
    return Forbidden(vi, en, code=code, details=details or None)


def check_grant(grant: AccessGrant | None, wanted: list[str]) -> None:
    """Raises the reason a call with this grant for these items is outside it."""
    now = utcnow()
    if grant is None:
        raise _refuse(
            "no_grant",
            "Hệ thống này chưa được cấp quyền truy cập dịch vụ.",
            "This system has no grant for this service.",
        )
    if grant.state == GrantState.SUSPENDED:
        raise _refuse(
            "grant_suspended",
            f"Quyền truy cập đang bị tạm dừng: {grant.reason or ''}",
            f"The grant is suspended: {grant.reason or ''}",
            grant_id=grant.id,
        )
    if grant.state == GrantState.REVOKED:
        raise _refuse(
            "grant_revoked",
            "Quyền truy cập đã bị chấm dứt.",
            "The grant was revoked.",
            grant_id=grant.id,
        )
    if grant.expires_at <= now:
        raise _refuse(
            "grant_expired",
            "Quyền truy cập đã hết hạn.",
            "The grant has expired.",
            grant_id=grant.id,
            expired_at=grant.expires_at.isoformat(),
        )
    if grant.valid_from > now:
        raise _refuse(
            "grant_not_yet_valid",
            "Quyền truy cập chưa đến thời hạn sử dụng.",
            "The grant is not valid yet.",
            grant_id=grant.id,
        )
    beyond = [i for i in wanted if i not in grant.items]
    if beyond:
        raise _refuse(
            "item_not_granted",
            f"Không được cấp quyền với các trường: {', '.join(beyond)}.",
            f"Items not in the grant: {', '.join(beyond)}.",
            grant_id=grant.id,
            items=beyond,
        )


@dataclass
class _Progress:
    """What is known of a call when it ends, allowed or refused, for its log row."""

    dataset: Dataset | None = None
    grant: AccessGrant | None = None
    items: list[str] = field(default_factory=list)


def _fetch(
    session: Session, providers: Providers, call: Call, dataset: Dataset, service: Any
) -> Page:
    provider = providers.for_service(service)
    limit = max(1, min(call.limit, MAX_LIMIT))
    if service.kind == "get":
        if not call.key:
            raise Invalid(
                "Cần tham số key.", "The 'key' parameter is required.", code="key_required"
            )
        if dataset.key_item == dataset.subject_item:
            check_subject(dataset.subject_kind, call.key)
        found = provider.get(session, dataset=dataset, service=service, key=call.key)
        return Page([found] if found else [], total=1 if found else 0)
    if service.kind == "search":
        access.unknown_items(dataset, list(call.filters))
        return provider.search(
            session,
            dataset=dataset,
            service=service,
            filters=call.filters,
            offset=max(0, call.offset),
            limit=limit,
        )
    return provider.changes(
        session, dataset=dataset, service=service, cursor=call.cursor, limit=limit
    )


def serve(
    session: Session,
    *,
    providers: Providers,
    limiter: RateLimiter,
    call: Call,
    progress: _Progress,
) -> tuple[dict[str, Any], list[str]]:
    """The answer and the data subjects it carries; raises `AppError` for a call outside."""
    dataset = catalogue.get_dataset(session, code=call.dataset)
    progress.dataset = dataset
    service = catalogue.get_service(session, dataset=dataset, code=call.service)
    if call.fields:
        access.unknown_items(dataset, list(call.fields))
    grant = access.current_grant(session, service_id=service.id, system=call.system)
    progress.grant = grant
    wanted = list(call.fields) if call.fields else list(grant.items if grant else [])
    progress.items = wanted
    check_grant(grant, wanted)
    assert grant is not None
    if dataset.personal_data and not (call.purpose or "").strip():
        raise Invalid(
            "Dữ liệu cá nhân: cần nêu mục đích (tiêu đề Lienthong-Purpose, ví dụ mã hồ sơ).",
            "Personal data: say why in the Lienthong-Purpose header (e.g. a dossier code).",
            code="purpose_required",
        )
    decision = limiter.hit(
        Rule("datashare.grant", f"{grant.rate_per_minute}/minute"), str(grant.id)
    )
    if not decision.allowed:
        raise TooManyRequests(
            "Vượt giới hạn số lần gọi của quyền truy cập.",
            "This grant's call rate is exceeded.",
            retry_after=decision.retry_after,
            code="grant_rate_limited",
        )
    page = _fetch(session, providers, call, dataset, service)
    subjects = [
        str(r[dataset.subject_item])
        for r in page.records
        if dataset.subject_item and r.get(dataset.subject_item)
    ]
    records = [{k: r[k] for k in wanted if k in r} for r in page.records]
    body: dict[str, Any] = {"records": records}
    if page.total is not None:
        body["total"] = page.total
    if service.kind == "changes":
        body["next_cursor"] = page.next_cursor
    return body, subjects


@dataclass(frozen=True)
class Refused:
    error: AppError
    request_id: str
    request_hash: str
    call_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            **(self.error.headers or {}),
            "Lienthong-Request-Id": self.request_id,
            "Lienthong-Request-Hash": self.request_hash,
        }


def call_logged(
    session: Session,
    *,
    providers: Providers,
    limiter: RateLimiter,
    events: EventSink,
    call: Call,
) -> Served | Refused:
    """One call, logged whether allowed or refused. The attempt runs in a savepoint: a refusal
    rolls back whatever it did (nothing half-written) and its log row is written in its place,
    so the surface answers the refusal without raising (raising would roll the row back)."""
    started = time.perf_counter()
    request_id = (call.request_id or "").strip()[:64] or str(uuid.uuid4())
    hashed = request_hash(call, request_id)
    refusal: AppError | None = None
    progress = _Progress()
    try:
        with session.begin_nested():
            body, subjects = serve(
                session, providers=providers, limiter=limiter, call=call, progress=progress
            )
    except AppError as exc:
        refusal, body, subjects = exc, {}, []
    encoded = json.dumps(body, default=str, ensure_ascii=False).encode()
    consumer = session.scalars(select(Agency).where(Agency.code == call.agency_code)).first()
    dataset = progress.dataset
    row = ShareCall(
        at=utcnow(),
        request_id=request_id,
        request_hash=hashed,
        owner_agency_id=dataset.owner_agency_id if dataset else None,
        consumer_agency_id=consumer.id if consumer else None,
        consumer_system=call.system[:80],
        dataset_code=call.dataset[:64],
        service_code=call.service[:64],
        grant_id=progress.grant.id if progress.grant else None,
        purpose=(call.purpose or "").strip()[:300] or None,
        status=refusal.status_code if refusal else 200,
        outcome=refusal.code if refusal else "ok",
        items=progress.items,
        record_count=len(body.get("records", [])),
        request_size=call.request_size,
        response_size=0 if refusal else len(encoded),
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    record(session, call=row, subjects=subjects, consumer_code=call.agency_code)
    if refusal is None:
        return Served(body=body, request_id=request_id, request_hash=hashed, call_id=row.id)
    if refusal.status_code in (403, 429):
        events.emit(
            node_event(
                action="data_grant_refused",
                category="web",
                outcome="failure",
                reason=refusal.code,
                source_ip=call.source_ip,
                user_name=call.system,
                fields={
                    "url.path": call.path,
                    "http.response.status_code": refusal.status_code,
                    "organization.id": call.agency_code,
                    "lienthong.data.dataset": call.dataset,
                    "lienthong.data.service": call.service,
                    "lienthong.data.grant_id": row.grant_id,
                    "lienthong.data.request_id": request_id,
                },
            )
        )
    return Refused(refusal, request_id, hashed, row.id)
