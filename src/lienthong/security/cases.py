"""Cases: several alerts escalated into one incident, assigned, commented and closed with a
reason. Closing a case closes its alerts with the same reason."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Invalid, NotFound
from lienthong.security.alerts import ACTIVE, _reason_required, _record, get_alert
from lienthong.security.models import CLOSED, LEVELS, OPEN, SecurityAlert, SecurityCase

CASE_ACTIONS = ("assign", "comment", "close")


def get_case(session: Session, *, case_id: int) -> SecurityCase:
    row = session.get(SecurityCase, case_id)
    if row is None:
        raise NotFound("Không có vụ việc này.", "No such case.", code="case_not_found")
    return row


def list_cases(
    session: Session, *, state: str | None = None, page: int = 1, page_size: int = 50
) -> tuple[list[SecurityCase], int]:
    stmt = select(SecurityCase)
    if state:
        stmt = stmt.where(SecurityCase.state == state)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(SecurityCase.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), int(total)


def escalate(
    session: Session,
    *,
    alert_ids: Sequence[int],
    actor: str,
    title: str | None = None,
    case_id: int | None = None,
) -> SecurityCase:
    """Alerts into a new case (with `title`) or an open one (`case_id`)."""
    alerts = [get_alert(session, alert_id=i) for i in dict.fromkeys(alert_ids)]
    if not alerts:
        raise Invalid(
            "Chọn ít nhất một cảnh báo.", "Choose at least one alert.", code="alerts_required"
        )
    for alert in alerts:
        if alert.state not in ACTIVE:
            raise Conflict(
                f"Cảnh báo #{alert.id} đã đóng.",
                f"Alert #{alert.id} is closed.",
                code="alert_closed",
            )
    if case_id is not None:
        case = get_case(session, case_id=case_id)
        if case.state != OPEN:
            raise Conflict("Vụ việc đã đóng.", "The case is closed.", code="case_closed")
    else:
        worst = max(alerts, key=lambda a: LEVELS.index(a.level) if a.level in LEVELS else 0)
        case = SecurityCase(
            title=(title or "").strip()[:300] or worst.rule_title,
            state=OPEN,
            level=worst.level,
            created_by=actor[:80],
            created_at=utcnow(),
        )
        session.add(case)
        session.flush()
        _record(session, actor=actor, action="open", comment=case.title, case_id=case.id)
    for alert in alerts:
        alert.case_id = case.id
        _record(session, actor=actor, action="escalate", comment=f"#{case.id}", alert_id=alert.id)
        if LEVELS.index(alert.level) > LEVELS.index(case.level):
            case.level = alert.level
    _record(
        session,
        actor=actor,
        action="add_alerts",
        comment=", ".join(f"#{a.id}" for a in alerts),
        case_id=case.id,
    )
    session.flush()
    return case


def act_on_case(
    session: Session,
    *,
    case_id: int,
    actor: str,
    action: str,
    comment: str | None = None,
    assignee: str | None = None,
) -> SecurityCase:
    case = get_case(session, case_id=case_id)
    if case.state != OPEN and action != "comment":
        raise Conflict("Vụ việc đã đóng.", "The case is closed.", code="case_closed")
    if action == "assign":
        name = (assignee or "").strip()
        if not name:
            raise Invalid(
                "Cần chọn người xử lý.",
                "Name who the case is assigned to.",
                code="assignee_required",
            )
        case.assignee = name[:80]
        comment = f"→ {case.assignee}" + (f": {comment}" if comment else "")
    elif action == "comment":
        if not (comment or "").strip():
            raise Invalid("Nhận xét trống.", "The comment is empty.", code="comment_required")
    elif action == "close":
        reason = _reason_required(comment)
        case.state, case.close_reason, case.closed_at = CLOSED, reason, utcnow()
        for alert in session.scalars(
            select(SecurityAlert).where(
                SecurityAlert.case_id == case.id, SecurityAlert.state.in_(ACTIVE)
            )
        ):
            alert.state, alert.close_reason = CLOSED, reason
            _record(session, actor=actor, action="close", comment=reason, alert_id=alert.id)
    else:
        raise Invalid(
            f"Thao tác '{action}' không có.",
            f"Unknown action '{action}'.",
            code="unknown_action",
            details={"actions": list(CASE_ACTIONS)},
        )
    _record(session, actor=actor, action=action, comment=comment, case_id=case.id)
    session.flush()
    return case
