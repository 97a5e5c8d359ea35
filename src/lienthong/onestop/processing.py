"""What officers and applicants do to a dossier: accept, refuse, assign, hand over (to the next
step or another agency), pause for papers, approve, return the result, stop or withdraw; each
move checked against the status, the agency and the role, and counted for the KPIs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import format_datetime, utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid
from lienthong.onestop import kpis, notices, supplements
from lienthong.onestop.models import (
    OPEN,
    STATUS_LABELS,
    Dossier,
    DossierPaper,
    Pause,
    Procedure,
)
from lienthong.onestop.service import (
    RECEPTION,
    ROLE_UNITS,
    S,
    Upload,
    _hand_over,
    _outcome,
    _receive,
    event,
    get_dossier,
    last_hop,
    store_upload,
)
from lienthong.registry import service as registry
from lienthong.registry.models import Agency, AgencyStatus


@dataclass(frozen=True)
class Officer:
    user_id: int
    name: str
    agency_codes: tuple[str, ...]


def _check_officer(session: Session, dossier: Dossier, officer: Officer) -> Agency:
    agency = session.get_one(Agency, dossier.agency_id)
    handling = (
        session.get(Agency, dossier.handling_agency_id) if dossier.handling_agency_id else None
    )
    if agency.code not in officer.agency_codes and (
        handling is None or handling.code not in officer.agency_codes
    ):
        raise Forbidden(
            f"Hồ sơ {dossier.code} thuộc {agency.name}; cán bộ của cơ quan khác không xử lý được.",
            f"Dossier {dossier.code} belongs to {agency.name}; officers of other agencies cannot act on it.",
            code="not_your_dossier",
            details={"agency": agency.code},
        )
    return agency


ACTIONS: dict[str, tuple[frozenset[int], int]] = {
    "accept": (frozenset({S.SUBMITTED}), S.RECEIVED),
    "refuse": (frozenset({S.SUBMITTED}), S.REFUSED),
    "assign": (frozenset({S.RECEIVED, S.PROCESSING}), S.PROCESSING),
    "hand_over": (frozenset({S.RECEIVED, S.PROCESSING}), S.PROCESSING),
    "request_supplement": (frozenset({S.RECEIVED, S.PROCESSING}), S.SUPPLEMENT),
    "supplement_received": (frozenset({S.SUPPLEMENT}), S.PROCESSING),
    "request_fee": (frozenset({S.RECEIVED, S.PROCESSING}), S.FEE_REQUESTED),
    "approve": (frozenset({S.PROCESSING}), S.DONE),
    "return_result": (frozenset({S.DONE}), S.RETURNED),
    "stop": (frozenset({S.RECEIVED, S.PROCESSING, S.SUPPLEMENT}), S.STOPPED),
    "withdraw": (frozenset(OPEN), S.WITHDRAWN),
}
ACTION_LABELS = {
    "accept": ("Tiếp nhận", "Accept"),
    "refuse": ("Từ chối tiếp nhận", "Refuse"),
    "assign": ("Phân công xử lý", "Assign"),
    "hand_over": ("Chuyển bước xử lý", "Hand over"),
    "request_supplement": ("Yêu cầu bổ sung", "Request papers"),
    "supplement_received": ("Đã nhận bổ sung", "Papers received"),
    "request_fee": ("Yêu cầu nộp phí", "Request fee"),
    "approve": ("Phê duyệt, có kết quả", "Approve"),
    "return_result": ("Trả kết quả", "Return the result"),
    "stop": ("Dừng xử lý", "Stop"),
    "withdraw": ("Rút hồ sơ", "Withdraw"),
}
# Timeline entries that are not officer actions.
EVENT_LABELS = {
    **ACTION_LABELS,
    "submitted": ("Nộp hồ sơ", "Submitted"),
    "received": ("Tiếp nhận", "Received"),
    "supplement_submitted": ("Công dân đã gửi bổ sung", "The applicant sent the papers"),
    "rated": ("Công dân đánh giá mức độ hài lòng", "The applicant rated the service"),
}
NEEDS_REASON = {"refuse", "request_supplement", "stop"}
# The applicant is told by e-mail and SMS when these happen (reception tells from service.py).
TOLD = {"request_supplement": "supplement", "request_fee": "fee", "approve": "result"}
IRREVERSIBLE = {"refuse", "stop"}  # asked to confirm on the page
ASSIGNABLE = ("officer", "leader")  # who may be given a dossier to handle (not clerks)


def _assignee(session: Session, dossier: Dossier, user_id: int | None) -> Any:
    from lienthong.accounts.models import Membership, User

    agencies = [a for a in (dossier.agency_id, dossier.handling_agency_id) if a]
    user = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.id == (user_id or 0),
            Membership.agency_id.in_(agencies),
            Membership.role.in_(ASSIGNABLE),
        )
    ).first()
    if user is None:
        raise Invalid(
            "Chọn cán bộ của cơ quan đang giải quyết hồ sơ.",
            "Choose an officer of the agency handling the dossier.",
            code="unknown_assignee",
        )
    return user


def officers_of(session: Session, dossier: Dossier) -> list[Any]:
    from lienthong.accounts.models import Membership, User

    agencies = [a for a in (dossier.agency_id, dossier.handling_agency_id) if a]
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.agency_id.in_(agencies),
                Membership.role.in_(ASSIGNABLE),
                User.active.is_(True),
            )
            .order_by(User.full_name)
            .distinct()
        )
    )


def allowed_actions(dossier: Dossier) -> list[str]:
    """The officer's actions the dossier's status allows; no fee request once it is paid or
    when there is none."""
    no_fee = not dossier.fee_vnd or dossier.payment_state == "paid"
    return [
        a
        for a, (sources, _) in ACTIONS.items()
        if dossier.status in sources and a != "withdraw" and not (a == "request_fee" and no_fee)
    ]


def act(
    session: Session,
    *,
    settings: Settings,
    blobs: BlobStore,
    code: str,
    action: str,
    officer: Officer | None,
    citizen_id: int | None = None,
    reason: str | None = None,
    to_unit: str | None = None,
    to_agency: str | None = None,
    assignee_id: int | None = None,
    results: Sequence[Upload] = (),
    papers: Sequence[str] = (),
    days: int | None = None,
) -> Dossier:
    dossier = get_dossier(session, code=code)
    if action not in ACTIONS:
        raise Invalid(
            f"Không có thao tác '{action}'.", f"Unknown action '{action}'.", code="unknown_action"
        )
    if action == "withdraw":
        if citizen_id is None or dossier.citizen_id != citizen_id:
            raise Forbidden(
                "Chỉ người nộp được rút hồ sơ của mình.",
                "Only the applicant may withdraw a dossier.",
                code="not_your_dossier",
            )
    else:
        if officer is None:
            raise Forbidden(
                "Cần tài khoản cán bộ.", "An officer account is needed.", code="forbidden"
            )
        _check_officer(session, dossier, officer)
    sources, target = ACTIONS[action]
    if dossier.status not in sources:
        raise Conflict(
            f"Không thể '{ACTION_LABELS[action][0]}' khi hồ sơ đang ở trạng thái {STATUS_LABELS[dossier.status][0]}.",
            f"Cannot '{ACTION_LABELS[action][1]}' a dossier that is {STATUS_LABELS[dossier.status][1]}.",
            code="transition_not_allowed",
            details={"status": dossier.status, "allowed_from": sorted(int(s) for s in sources)},
        )
    if action in NEEDS_REASON and not (reason or "").strip():
        raise Invalid("Nhập lý do.", "Give the reason.", code="missing_reason")
    procedure = session.get_one(Procedure, dossier.procedure_id)
    agency = session.get_one(Agency, dossier.agency_id)
    now = utcnow()
    actor = officer.user_id if officer else None
    if action == "accept":
        _receive(session, settings, dossier, procedure, agency, officer_id=actor, at=now)
    elif action == "refuse":
        dossier.status = target
        dossier.reason = reason
        kpis.bump(session, agency_id=agency.id, at=now, measure="refused")
    elif action == "assign":
        assignee = _assignee(session, dossier, assignee_id)
        dossier.assignee_id = assignee.id
        dossier.status = target
        to_unit = assignee.full_name
    elif action == "hand_over":
        if to_agency:
            other = registry.get_agency(session, code=to_agency)
            if other.status != AgencyStatus.ACTIVE:
                raise Invalid(
                    f"{other.name} không còn hoạt động.",
                    f"{other.name} is no longer active.",
                    code="agency_inactive",
                )
            dossier.handling_agency_id = None if other.id == dossier.agency_id else other.id
            to_unit = other.name
        current = dossier.step + 1
        role = (
            str(procedure.steps[min(current, len(procedure.steps) - 1)]["role"])
            if procedure.steps
            else "processing"
        )
        last = last_hop(session, dossier)
        _hand_over(
            session,
            settings,
            dossier,
            procedure,
            to_unit=(to_unit or ROLE_UNITS.get(role, role)).strip(),
            from_unit=last.to_unit if last else RECEPTION,
            role=role,
            at=now,
        )
        dossier.step = current
        dossier.status = target
    elif action == "request_supplement":
        supplements.ask(
            session, dossier, procedure, reason=reason or "", papers=papers, days=days, at=now
        )
        dossier.status = target
        dossier.reason = reason
    elif action == "stop":
        session.add(Pause(dossier_id=dossier.id, started_at=now, reason=reason or ""))
        dossier.status = target
        dossier.reason = reason
    elif action == "supplement_received":  # the papers brought to the counter
        supplements.resume(session, settings, dossier, now)
    elif action == "request_fee":
        dossier.status = target
    elif action == "approve":
        dossier.status = target
        dossier.finished_at = now
        dossier.outcome = _outcome(now, dossier.due_at)
        for measure in ("finished", f"finished_{dossier.outcome}"):
            kpis.bump(session, agency_id=agency.id, at=now, measure=measure)
    elif action == "return_result":
        if dossier.fee_vnd and dossier.payment_state != "paid":
            raise Conflict(
                "Hồ sơ chưa nộp phí, lệ phí.", "The fee has not been paid.", code="fee_unpaid"
            )
        for upload in results:
            sha, content_type, size = store_upload(
                blobs, upload, max_bytes=settings.onestop_max_file_bytes
            )
            session.add(
                DossierPaper(
                    dossier_id=dossier.id,
                    name=upload.paper,
                    kind="result",
                    filename=upload.filename,
                    content_type=content_type,
                    blob_sha256=sha,
                    size=size,
                    digitised=True,
                )
            )
        last = last_hop(session, dossier)
        _hand_over(
            session,
            settings,
            dossier,
            procedure,
            to_unit="Công dân",
            from_unit=last.to_unit if last else RECEPTION,
            role="return",
            at=now,
        )
        dossier.status = target
        dossier.returned_at = now
    elif action == "withdraw":
        dossier.status = target
        kpis.bump(session, agency_id=agency.id, at=now, measure="withdrawn")
    if action != "accept":  # reception wrote its own "received" event
        event(session, dossier, action, unit=to_unit, actor_id=actor or citizen_id, note=reason)
    if action in TOLD:
        detail = ""
        if action == "request_supplement":
            pause = supplements.open_request(session, dossier)
            due = format_datetime(pause.respond_by) if pause else ""
            detail = f"{'; '.join(pause.papers or []) if pause else ''} ({reason}; hạn {due})"
        notices.tell(session, settings, dossier, TOLD[action], detail)
    session.flush()
    return dossier


def officer_for(principal_grants: Sequence[Any], user_id: int, name: str) -> Officer:
    roles = {"officer", "clerk", "leader", "admin"}
    return Officer(
        user_id, name, tuple(sorted({g.agency_code for g in principal_grants if g.role in roles}))
    )
