"""Registry operations. Functions take a Session and keyword-only arguments; they flush, never
commit: the caller (request, job, CLI) owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from lienthong.kernel import jobs
from lienthong.kernel.clock import local_today, start_of_local_day, utcnow
from lienthong.kernel.errors import Conflict, Invalid, NotFound
from lienthong.kernel.text import escape_like, fold
from lienthong.registry.codes import parse_code
from lienthong.registry.models import Agency, AgencyEvent, AgencyKind, AgencyStatus, Succession
from lienthong.registry.schemas import AgencyCreate, AgencyUpdate

APPLY_RETIREMENT_JOB = "registry.apply_retirement"
CONTACT_FIELDS = ("organization_in_charge", "address", "email", "phone", "fax", "website")
EDITABLE_FIELDS = ("name", "short_name", "kind", "admin_code", "serving_node", "illustrative")


@dataclass(frozen=True)
class AgencyLinks:
    successor_codes: list[str]
    predecessor_codes: list[str]


def search_text_for(name: str, short_name: str | None, code: str) -> str:
    return fold(" ".join(part for part in (name, short_name or "", code) if part))[:700]


# ---- reads -------------------------------------------------------------------------------


def find_agency(session: Session, *, code: str) -> Agency | None:
    return session.scalars(select(Agency).where(Agency.code == code.strip().upper())).first()


def get_agency(session: Session, *, code: str) -> Agency:
    """The agency with this code; a malformed code is told apart from an unknown one."""
    agency = find_agency(session, code=str(parse_code(code)))
    if agency is None:
        raise NotFound(
            f"Không có cơ quan mã {code} trong danh bạ.",
            f"No agency with code {code} in the registry.",
            code="unknown_agency",
            details={"code": code},
        )
    return agency


def links_for(session: Session, agency_ids: Iterable[int]) -> dict[int, AgencyLinks]:
    """Successor and predecessor codes of many agencies in two queries."""
    ids = list(set(agency_ids))
    successors: dict[int, list[str]] = defaultdict(list)
    predecessors: dict[int, list[str]] = defaultdict(list)
    if ids:
        other = aliased(Agency)
        for pred_id, code in session.execute(
            select(Succession.predecessor_id, other.code)
            .join(other, other.id == Succession.successor_id)
            .where(Succession.predecessor_id.in_(ids))
            .order_by(other.code)
        ):
            successors[pred_id].append(code)
        for succ_id, code in session.execute(
            select(Succession.successor_id, other.code)
            .join(other, other.id == Succession.predecessor_id)
            .where(Succession.successor_id.in_(ids))
            .order_by(other.code)
        ):
            predecessors[succ_id].append(code)
    return {i: AgencyLinks(successors[i], predecessors[i]) for i in ids}


def agency_dict(agency: Agency, links: AgencyLinks) -> dict[str, Any]:
    return {
        "code": agency.code,
        "name": agency.name,
        "short_name": agency.short_name,
        "kind": agency.kind,
        "level": agency.level,
        "parent_code": agency.parent.code if agency.parent else None,
        "status": agency.status,
        "status_effective_on": agency.status_effective_on,
        "successor_codes": links.successor_codes,
        "predecessor_codes": links.predecessor_codes,
        "admin_code": agency.admin_code,
        "serving_node": agency.serving_node,
        "illustrative": agency.illustrative,
        "created_at": agency.created_at,
        "updated_at": agency.updated_at,
        **{name: getattr(agency, name) for name in CONTACT_FIELDS},
    }


def describe(session: Session, agencies: Sequence[Agency]) -> list[dict[str, Any]]:
    links = links_for(session, (a.id for a in agencies))
    return [agency_dict(a, links[a.id]) for a in agencies]


def list_agencies(
    session: Session,
    *,
    parent_code: str | None = None,
    level: int | None = None,
    status: AgencyStatus | None = None,
    kind: AgencyKind | None = None,
    q: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Agency], int]:
    stmt = select(Agency)
    if parent_code:
        parent = get_agency(session, code=parent_code)
        stmt = stmt.where(Agency.parent_id == parent.id)
    if level is not None:
        stmt = stmt.where(Agency.level == level)
    if status is not None:
        stmt = stmt.where(Agency.status == status.value)
    if kind is not None:
        stmt = stmt.where(Agency.kind == kind.value)
    folded = fold(q or "")
    if folded:
        # Phrase match on the accent-free text: "ha long" finds "Hạ Long", not "Hà Lầm".
        stmt = stmt.where(Agency.search_text.like(f"%{escape_like(folded)}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    inactive_last = case((Agency.status == AgencyStatus.ACTIVE.value, 0), else_=1)
    stmt = (
        stmt.order_by(inactive_last, Agency.level, Agency.search_text, Agency.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(session.scalars(stmt)), int(total)


def children_counts(
    session: Session, parent_ids: Iterable[int], *, active_only: bool
) -> dict[int, int]:
    stmt = select(Agency.parent_id, func.count()).where(Agency.parent_id.in_(list(parent_ids)))
    if active_only:
        stmt = stmt.where(Agency.status == AgencyStatus.ACTIVE.value)
    return {pid: int(n) for pid, n in session.execute(stmt.group_by(Agency.parent_id)) if pid}


def tree(
    session: Session, *, root_code: str, depth: int = 2, include_inactive: bool = False
) -> dict[str, Any]:
    """The agency and its descendants down to `depth` levels, one query per level."""
    root = get_agency(session, code=root_code)

    def node(agency: Agency) -> dict[str, Any]:
        return {
            "code": agency.code,
            "name": agency.name,
            "short_name": agency.short_name,
            "kind": agency.kind,
            "level": agency.level,
            "status": agency.status,
            "children": [],
            "children_total": 0,
        }

    out = node(root)
    frontier = {root.id: out}
    for remaining in range(depth, -1, -1):
        counts = children_counts(session, frontier, active_only=not include_inactive)
        for agency_id, item in frontier.items():
            item["children_total"] = counts.get(agency_id, 0)
        if remaining == 0 or not frontier:
            break
        stmt = select(Agency).where(Agency.parent_id.in_(list(frontier)))
        if not include_inactive:
            stmt = stmt.where(Agency.status == AgencyStatus.ACTIVE.value)
        next_frontier: dict[int, dict[str, Any]] = {}
        for child in session.scalars(stmt.order_by(Agency.code)):
            item = node(child)
            frontier[child.parent_id or 0]["children"].append(item)
            next_frontier[child.id] = item
        frontier = next_frontier
    return out


def history(
    session: Session, *, code: str, page: int = 1, page_size: int = 50
) -> tuple[list[AgencyEvent], int]:
    agency = get_agency(session, code=code)
    base = select(AgencyEvent).where(AgencyEvent.agency_id == agency.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    events = session.scalars(
        base.order_by(AgencyEvent.at.desc(), AgencyEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(events), int(total)


# ---- writes ------------------------------------------------------------------------------


def record(
    session: Session, agency: Agency, *, actor: str, action: str, changes: dict[str, Any]
) -> None:
    session.add(
        AgencyEvent(agency_id=agency.id, at=utcnow(), actor=actor, action=action, changes=changes)
    )


_ROLES = {
    # role: (Vietnamese name, English name, code when unknown, code when inactive)
    "parent": ("Cơ quan cấp trên", "parent agency", "unknown_parent", "parent_inactive"),
    "successor": (
        "Cơ quan kế thừa",
        "successor agency",
        "unknown_successor",
        "successor_inactive",
    ),
}


def _active_agency(session: Session, code: str, *, role: str) -> Agency:
    """A parent or successor named by a change: it must exist and still be active."""
    name_vi, name_en, unknown, inactive = _ROLES[role]
    code = str(parse_code(code))
    agency = find_agency(session, code=code)
    if agency is None:
        raise Invalid(
            f"{name_vi} {code} không có trong danh bạ.",
            f"The {name_en} {code} is not in the registry.",
            code=unknown,
            details={f"{role}_code": code},
        )
    if agency.status != AgencyStatus.ACTIVE:
        raise Invalid(
            f"{name_vi} {code} không còn hoạt động ({agency.status}).",
            f"The {name_en} {code} is no longer active ({agency.status}).",
            code=inactive,
            details={f"{role}_code": code, "status": agency.status},
        )
    return agency


def create_agency(session: Session, *, data: AgencyCreate, actor: str, default_node: str) -> Agency:
    code = parse_code(data.code)
    if find_agency(session, code=str(code)) is not None:
        raise Conflict(
            f"Mã {code} đã có trong danh bạ.",
            f"Code {code} is already in the registry.",
            code="duplicate_agency_code",
            details={"code": str(code)},
        )
    parent: Agency | None = None
    if data.parent_code:
        parent = _active_agency(session, data.parent_code, role="parent")
    elif code.implied_parent is not None:
        parent = find_agency(session, code=str(code.implied_parent))
    now = utcnow()
    agency = Agency(
        code=str(code),
        name=data.name.strip(),
        short_name=(data.short_name or "").strip() or None,
        kind=data.kind.value,
        level=code.level,
        parent=parent,
        status=AgencyStatus.ACTIVE.value,
        admin_code=data.admin_code,
        serving_node=data.serving_node or default_node,
        illustrative=data.illustrative,
        search_text=search_text_for(data.name, data.short_name, str(code)),
        created_at=now,
        updated_at=now,
        **{name: getattr(data, name) for name in CONTACT_FIELDS},
    )
    session.add(agency)
    session.flush()
    record(
        session,
        agency,
        actor=actor,
        action="created",
        changes={
            "code": agency.code,
            "name": agency.name,
            "parent_code": parent.code if parent else None,
        },
    )
    return agency


def _check_no_cycle(session: Session, agency: Agency, new_parent: Agency) -> None:
    seen: set[int] = set()
    current: Agency | None = new_parent
    while current is not None and current.id not in seen:
        if current.id == agency.id:
            raise Invalid(
                f"Không thể đặt {new_parent.code} làm cấp trên của {agency.code}: "
                "sẽ tạo vòng lặp trong cây tổ chức.",
                f"{new_parent.code} cannot be the parent of {agency.code}: "
                "it would make a cycle in the hierarchy.",
                code="parent_cycle",
                details={"code": agency.code, "parent_code": new_parent.code},
            )
        seen.add(current.id)
        current = current.parent


def update_agency(session: Session, *, code: str, data: AgencyUpdate, actor: str) -> Agency:
    agency = get_agency(session, code=code)
    given = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if "parent_code" in given:
        new_parent = None
        if given["parent_code"]:
            new_parent = _active_agency(session, given["parent_code"], role="parent")
            _check_no_cycle(session, agency, new_parent)
        old = agency.parent.code if agency.parent else None
        new = new_parent.code if new_parent else None
        if old != new:
            agency.parent = new_parent
            changes["parent_code"] = [old, new]
    for name in (*EDITABLE_FIELDS, *CONTACT_FIELDS):
        if name not in given:
            continue
        value = given[name]
        if isinstance(value, AgencyKind):
            value = value.value
        if name in ("name",) and value is None:
            continue
        if isinstance(value, str):
            value = value.strip() or (None if name != "name" else value)
        if getattr(agency, name) != value:
            changes[name] = [getattr(agency, name), value]
            setattr(agency, name, value)
    if changes:
        agency.search_text = search_text_for(agency.name, agency.short_name, agency.code)
        agency.updated_at = utcnow()
        session.flush()
        record(session, agency, actor=actor, action="updated", changes=changes)
    return agency


def rename(session: Session, *, code: str, new_code: str, actor: str) -> Agency:
    """Give an agency a new code; `old_code` keeps the previous one for nodes still using it."""
    agency = get_agency(session, code=code)
    parsed = parse_code(new_code)
    if find_agency(session, code=str(parsed)) is not None:
        raise Conflict(
            f"Mã {parsed} đã được dùng cho một cơ quan khác trong danh bạ.",
            f"Code {parsed} is already used by an agency in the registry.",
            code="agency_code_taken",
            details={"code": agency.code, "new_code": str(parsed)},
        )
    changes: dict[str, Any] = {"code": [agency.code, str(parsed)]}
    if agency.level != parsed.level:
        changes["level"] = [agency.level, parsed.level]
    agency.old_code, agency.code, agency.level = agency.code, str(parsed), parsed.level
    agency.search_text = search_text_for(agency.name, agency.short_name, agency.code)
    agency.updated_at = utcnow()
    session.flush()
    record(session, agency, actor=actor, action="rename", changes=changes)
    return agency


def _retirable(session: Session, code: str) -> Agency:
    agency = get_agency(session, code=str(parse_code(code)))
    if agency.status != AgencyStatus.ACTIVE:
        raise Invalid(
            f"Cơ quan {agency.code} đã {agency.status} từ trước.",
            f"Agency {agency.code} is already {agency.status}.",
            code="agency_inactive",
            details={"code": agency.code, "status": agency.status},
        )
    return agency


def retire(
    session: Session,
    *,
    codes: Sequence[str],
    successor_codes: Sequence[str],
    status: AgencyStatus,
    effective_on: date | None,
    actor: str,
) -> list[Agency]:
    """Mark agencies merged or dissolved with their successors. Effective today or earlier: at
    once; a later date: the successions are recorded now and a job applies the status that day."""
    if status == AgencyStatus.ACTIVE:
        raise ValueError("retire() needs merged or dissolved")
    effective_on = effective_on or local_today()
    sources = [_retirable(session, c) for c in dict.fromkeys(codes)]
    successors = [
        _active_agency(session, c, role="successor") for c in dict.fromkeys(successor_codes)
    ]
    overlap = {a.code for a in sources} & {s.code for s in successors}
    if overlap:
        raise Invalid(
            "Một cơ quan không thể kế thừa chính nó: " + ", ".join(sorted(overlap)),
            "An agency cannot succeed itself: " + ", ".join(sorted(overlap)),
            code="successor_is_source",
            details={"codes": sorted(overlap)},
        )
    for source in sources:
        for successor in successors:
            session.merge(
                Succession(
                    predecessor_id=source.id, successor_id=successor.id, effective_on=effective_on
                )
            )
        record(
            session,
            source,
            actor=actor,
            action=f"{status.value}_scheduled" if effective_on > local_today() else status.value,
            changes={
                "successor_codes": [s.code for s in successors],
                "effective_on": effective_on.isoformat(),
            },
        )
    for successor in successors:
        record(
            session,
            successor,
            actor=actor,
            action="succeeds",
            changes={
                "predecessor_codes": [a.code for a in sources],
                "effective_on": effective_on.isoformat(),
            },
        )
    session.flush()
    if effective_on > local_today():
        jobs.enqueue(
            session,
            kind=APPLY_RETIREMENT_JOB,
            payload={
                "codes": [a.code for a in sources],
                "status": status.value,
                "actor": actor,
                "effective_on": effective_on.isoformat(),
            },
            run_after=start_of_local_day(effective_on),
        )
    else:
        apply_retirement(
            session,
            codes=[a.code for a in sources],
            status=status,
            actor=actor,
            effective_on=effective_on,
        )
    return sources


def apply_retirement(
    session: Session, *, codes: Sequence[str], status: AgencyStatus, actor: str, effective_on: date
) -> None:
    """Idempotent: agencies already retired are left alone."""
    for code in codes:
        agency = get_agency(session, code=code)
        if agency.status != AgencyStatus.ACTIVE:
            continue
        agency.status = status.value
        agency.status_effective_on = effective_on
        agency.updated_at = utcnow()
        successor_ids = list(
            session.scalars(
                select(Succession.successor_id).where(Succession.predecessor_id == agency.id)
            )
        )
        # Sub-units of a unit that passed whole to one successor now report to it.
        if len(successor_ids) == 1:
            heir = session.get_one(Agency, successor_ids[0])
            for child in session.scalars(
                select(Agency).where(
                    Agency.parent_id == agency.id, Agency.status == AgencyStatus.ACTIVE.value
                )
            ):
                child.parent = heir
                child.updated_at = utcnow()
                record(
                    session,
                    child,
                    actor=actor,
                    action="updated",
                    changes={"parent_code": [agency.code, heir.code]},
                )
        session.flush()


def merge(
    session: Session,
    *,
    source_codes: Sequence[str],
    successor_code: str,
    effective_on: date | None,
    actor: str,
) -> Agency:
    retire(
        session,
        codes=source_codes,
        successor_codes=[successor_code],
        status=AgencyStatus.MERGED,
        effective_on=effective_on,
        actor=actor,
    )
    return get_agency(session, code=successor_code)


def dissolve(
    session: Session,
    *,
    code: str,
    successor_codes: Sequence[str],
    effective_on: date | None,
    actor: str,
) -> Agency:
    retire(
        session,
        codes=[code],
        successor_codes=successor_codes,
        status=AgencyStatus.DISSOLVED,
        effective_on=effective_on,
        actor=actor,
    )
    return get_agency(session, code=code)
