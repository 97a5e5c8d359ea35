"""Access requests (Art 35) and the grants they lead to (Art 40, 44): the owner approves within
2 working days (Decree 194/2025), optionally narrowing the items and setting an expiry, or
refuses with a reason; later suspends, resumes or revokes. A grant is never edited: every
change is a new grant superseding the current one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lienthong.accounts.models import SystemCredential
from lienthong.config import Settings
from lienthong.datashare import catalogue
from lienthong.datashare.models import (
    AccessGrant,
    AccessRequest,
    DataService,
    Dataset,
    GrantState,
    RequestState,
)
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from lienthong.onestop.service import calendar
from lienthong.registry import service as registry
from lienthong.registry.models import Agency

ANSWER_WORKING_DAYS = 2  # Art 35.3 as amended by Decree 194/2025 (was 5)
DEFAULT_RATE_PER_MINUTE = 600


@dataclass(frozen=True)
class Ask:
    """What a consumer agency asks for (Art 35.1 a-g)."""

    dataset_code: str
    service_code: str
    consumer_system: str
    items: Sequence[str]
    purpose: str
    legal_basis: str
    frequency: str
    period_from: datetime
    period_to: datetime


def _missing(ask: Ask) -> list[str]:
    fields = {
        "consumer_system": ask.consumer_system,
        "purpose": ask.purpose,
        "legal_basis": ask.legal_basis,
        "frequency": ask.frequency,
    }
    missing = [k for k, v in fields.items() if not (v or "").strip()]
    if not ask.items:
        missing.append("items")
    return missing


def unknown_items(dataset: Dataset, items: Sequence[str]) -> None:
    known = set(catalogue.item_names(dataset))
    unknown = [i for i in items if i not in known]
    if unknown:
        raise Invalid(
            f"Bộ dữ liệu {dataset.code} không có trường {', '.join(unknown)}.",
            f"Dataset {dataset.code} has no item {', '.join(unknown)}.",
            code="unknown_item",
            details={"unknown": unknown, "known": sorted(known)},
        )


def request_access(
    session: Session,
    *,
    settings: Settings,
    consumer_code: str,
    ask: Ask,
    requested_by_id: int | None,
) -> AccessRequest:
    missing = _missing(ask)
    if missing:
        raise Invalid(
            f"Yêu cầu truy cập thiếu: {', '.join(missing)} (Điều 35 Nghị định 47/2020).",
            f"The access request lacks: {', '.join(missing)} (Decree 47/2020 art. 35).",
            code="incomplete_access_request",
            details={"missing": missing},
        )
    if ask.period_to <= ask.period_from:
        raise Invalid(
            "Thời hạn sử dụng phải kết thúc sau khi bắt đầu.",
            "The period must end after it starts.",
            code="invalid_period",
        )
    dataset = catalogue.get_dataset(session, code=ask.dataset_code)
    service = catalogue.get_service(session, dataset=dataset, code=ask.service_code)
    unknown_items(dataset, ask.items)
    consumer = registry.get_agency(session, code=consumer_code)
    credential = session.scalars(
        select(SystemCredential).where(SystemCredential.system_id == ask.consumer_system)
    ).first()
    if credential is None or credential.agency_id != consumer.id or credential.revoked_at:
        raise Invalid(
            f"Hệ thống {ask.consumer_system!r} không phải của {consumer.code}.",
            f"System {ask.consumer_system!r} is not one of {consumer.code}'s.",
            code="unknown_consumer_system",
        )
    now = utcnow()
    request = AccessRequest(
        service_id=service.id,
        owner_agency_id=dataset.owner_agency_id,
        consumer_agency_id=consumer.id,
        consumer_system=ask.consumer_system,
        items=list(dict.fromkeys(ask.items)),
        purpose=ask.purpose.strip(),
        legal_basis=ask.legal_basis.strip(),
        frequency=ask.frequency.strip(),
        period_from=ask.period_from,
        period_to=ask.period_to,
        state=RequestState.PENDING,
        requested_by_id=requested_by_id,
        created_at=now,
        due_at=calendar(settings).add_working_days(now, ANSWER_WORKING_DAYS),
    )
    session.add(request)
    session.flush()
    return request


def _owner_check(session: Session, owner_agency_id: int, acting_code: str) -> None:
    owner = session.get(Agency, owner_agency_id)
    if owner is None or owner.code != acting_code:
        raise Forbidden(
            "Chỉ quản trị của cơ quan chủ quản dữ liệu được quyết định.",
            "Only an administrator of the data's owner agency may decide this.",
            code="not_data_owner",
            details={"owner": owner.code if owner else None},
        )


def get_request(session: Session, *, request_id: int) -> AccessRequest:
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound("Không có yêu cầu này.", "No such access request.", code="unknown_request")
    return request


def _pending(request: AccessRequest) -> None:
    if request.state != RequestState.PENDING:
        raise Conflict(
            "Yêu cầu đã được trả lời.",
            f"The request was already answered ({request.state}).",
            code="request_already_answered",
        )


def approve(
    session: Session,
    *,
    request_id: int,
    acting_code: str,
    actor_id: int | None,
    items: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
) -> AccessGrant:
    request = get_request(session, request_id=request_id)
    _owner_check(session, request.owner_agency_id, acting_code)
    _pending(request)
    granted = list(items) if items else list(request.items)
    beyond = [i for i in granted if i not in request.items]
    if beyond or not granted:
        raise Invalid(
            "Chỉ được thu hẹp, không mở rộng các trường đã yêu cầu.",
            "An approval may narrow the items asked for, not add to them.",
            code="items_beyond_request",
            details={"beyond": beyond},
        )
    now = utcnow()
    expiry = expires_at or request.period_to
    if expiry <= now:
        raise Invalid("Hạn dùng đã qua.", "The expiry is in the past.", code="invalid_period")
    request.state = RequestState.APPROVED
    request.decided_at = now
    request.decided_by_id = actor_id
    grant = AccessGrant(
        request_id=request.id,
        service_id=request.service_id,
        owner_agency_id=request.owner_agency_id,
        consumer_agency_id=request.consumer_agency_id,
        consumer_system=request.consumer_system,
        items=granted,
        state=GrantState.ACTIVE,
        valid_from=max(request.period_from, now),
        expires_at=min(expiry, request.period_to),
        rate_per_minute=rate_per_minute,
        created_at=now,
        created_by_id=actor_id,
    )
    # A newer approval for the same system and service supersedes the grant it had.
    for old in _current(session, request.service_id, request.consumer_system):
        old.current = False
    session.add(grant)
    session.flush()
    return grant


def refuse(
    session: Session, *, request_id: int, acting_code: str, actor_id: int | None, reason: str
) -> AccessRequest:
    request = get_request(session, request_id=request_id)
    _owner_check(session, request.owner_agency_id, acting_code)
    _pending(request)
    if not reason.strip():
        raise Invalid(
            "Từ chối phải nêu lý do (Điều 16 Nghị định 194/2025).",
            "A refusal needs its reason.",
            code="reason_required",
        )
    request.state = RequestState.REFUSED
    request.decided_at = utcnow()
    request.decided_by_id = actor_id
    request.reason = reason.strip()
    session.flush()
    return request


def _current(session: Session, service_id: int, system: str) -> list[AccessGrant]:
    return list(
        session.scalars(
            select(AccessGrant).where(
                AccessGrant.service_id == service_id,
                AccessGrant.consumer_system == system,
                AccessGrant.current.is_(True),
            )
        )
    )


def current_grant(session: Session, *, service_id: int, system: str) -> AccessGrant | None:
    found = _current(session, service_id, system)
    return found[0] if found else None


def get_grant(session: Session, *, grant_id: int) -> AccessGrant:
    grant = session.get(AccessGrant, grant_id)
    if grant is None:
        raise NotFound("Không có quyền truy cập này.", "No such grant.", code="unknown_grant")
    return grant


_MOVES = {
    "suspend": ({GrantState.ACTIVE}, GrantState.SUSPENDED),
    "resume": ({GrantState.SUSPENDED}, GrantState.ACTIVE),
    "revoke": ({GrantState.ACTIVE, GrantState.SUSPENDED}, GrantState.REVOKED),
}


def change_grant(
    session: Session,
    *,
    grant_id: int,
    action: str,
    acting_code: str,
    actor_id: int | None,
    reason: str,
) -> AccessGrant:
    """Suspend (Art 44: with the breach and the remedy), resume or revoke: a new grant."""
    grant = get_grant(session, grant_id=grant_id)
    _owner_check(session, grant.owner_agency_id, acting_code)
    allowed, target = _MOVES[action]
    if not grant.current or grant.state not in allowed:
        raise Conflict(
            f"Không thể {action} quyền ở trạng thái {grant.state}.",
            f"Cannot {action} a grant that is {grant.state}"
            + ("" if grant.current else " and superseded")
            + ".",
            code="grant_state_conflict",
        )
    if action != "resume" and not reason.strip():
        raise Invalid("Cần nêu lý do.", "A reason is needed.", code="reason_required")
    grant.current = False
    successor = AccessGrant(
        request_id=grant.request_id,
        service_id=grant.service_id,
        owner_agency_id=grant.owner_agency_id,
        consumer_agency_id=grant.consumer_agency_id,
        consumer_system=grant.consumer_system,
        items=list(grant.items),
        state=target,
        valid_from=grant.valid_from,
        expires_at=grant.expires_at,
        rate_per_minute=grant.rate_per_minute,
        created_at=utcnow(),
        created_by_id=actor_id,
        reason=reason.strip() or None,
        replaces_id=grant.id,
    )
    session.add(successor)
    session.flush()
    return successor


def list_requests(
    session: Session,
    *,
    owner_ids: Sequence[int] = (),
    consumer_ids: Sequence[int] = (),
    state: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[AccessRequest], int]:
    query = select(AccessRequest).where(
        or_(
            AccessRequest.owner_agency_id.in_(list(owner_ids)),
            AccessRequest.consumer_agency_id.in_(list(consumer_ids)),
        )
    )
    if state:
        query = query.where(AccessRequest.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AccessRequest.due_at, AccessRequest.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total


def list_grants(
    session: Session,
    *,
    owner_ids: Sequence[int] = (),
    consumer_ids: Sequence[int] = (),
    state: str | None = None,
    history: bool = False,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[AccessGrant], int]:
    query = select(AccessGrant).where(
        or_(
            AccessGrant.owner_agency_id.in_(list(owner_ids)),
            AccessGrant.consumer_agency_id.in_(list(consumer_ids)),
        )
    )
    if not history:
        query = query.where(AccessGrant.current.is_(True))
    if state:
        query = query.where(AccessGrant.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AccessGrant.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), total


def service_of(session: Session, service_id: int) -> tuple[Dataset, DataService]:
    service = session.get(DataService, service_id)
    assert service is not None  # a foreign key
    dataset = session.get(Dataset, service.dataset_id)
    assert dataset is not None
    return dataset, service
