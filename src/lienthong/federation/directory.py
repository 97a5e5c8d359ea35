"""The agency directory between nodes: a versioned feed out, and applying a peer's records in.

The national axis publishes every agency; a province pulls "what changed since version N" and
pushes its own agencies upward the same way (the feed filtered on `serving_node`). Versions are
stamped by registry.versioning on every agency change, including the ones made here: an applied
record gets a fresh local version, so this node's own feed passes it on.

Pure database work, no HTTP: the transport calls `feed` and `apply` inside its transaction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, joinedload

from lienthong.kernel.clock import local_today, utcnow
from lienthong.kernel.errors import Forbidden, Invalid
from lienthong.registry import service as registry
from lienthong.registry.codes import InvalidAgencyCode, parse_code
from lienthong.registry.models import Agency, AgencyEvent, AgencyKind, AgencyStatus, Succession
from lienthong.registry.schemas import Contact
from lienthong.registry.versioning import current_version

CHUNK = 500  # codes or ids per IN (...): well under SQLite's and PostgreSQL's limits
MAX_LIMIT = 10_000
MAX_REPORTED = 100
# The model's lazy="joined" does not reach a self-referential parent (SQLAlchemy stops at the
# first repeat of a mapper); said explicitly, the parent comes in the same query.
PARENT = joinedload(Agency.parent)  # errors listed in an answer; the count says how many there were
# Copied from a record onto the agency as they are (parent and successors are links, set apart).
FIELDS = (
    "old_code",
    "name",
    "short_name",
    "kind",
    "level",
    "status",
    "status_effective_on",
    "admin_code",
    *registry.CONTACT_FIELDS,
    "serving_node",
    "illustrative",
)


# ---- the feed ----------------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_of(agency: Agency, successors: list[str]) -> dict[str, Any]:
    """One agency as a feed record. `deleted` tells nodes that ignore statuses to stop routing
    to it; the record stays so that they can follow `successors`."""
    return {
        "code": agency.code,
        "old_code": agency.old_code,
        "version": agency.dir_version,
        "deleted": agency.status != AgencyStatus.ACTIVE,
        "status": agency.status,
        "status_effective_on": _iso(agency.status_effective_on),
        "name": agency.name,
        "short_name": agency.short_name,
        "kind": agency.kind,
        "level": agency.level,
        "parent_code": agency.parent.code if agency.parent else None,
        "admin_code": agency.admin_code,
        **{name: getattr(agency, name) for name in registry.CONTACT_FIELDS},
        "serving_node": agency.serving_node,
        "illustrative": agency.illustrative,
        "successors": successors,
        "updated_at": _iso(agency.updated_at),
    }


def _successor_codes(session: Session, agency_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(agency_ids), CHUNK):
        for predecessor_id, code in session.execute(
            select(Succession.predecessor_id, Agency.code)
            .join(Agency, Agency.id == Succession.successor_id)
            .where(Succession.predecessor_id.in_(agency_ids[start : start + CHUNK]))
            .order_by(Agency.code)
        ):
            out[predecessor_id].append(code)
    return out


def feed(
    session: Session, *, since: int, limit: int = 1000, node_code: str | None = None
) -> dict[str, Any]:
    """Records changed after version `since`, oldest first. A reader continues from the last
    record's version while `more`, then from `head`.

    `head` is read first and records are capped at it: versions are handed out under the
    counter's lock, so every version up to a committed head is itself committed, and a reader
    that moves to `head` skips nothing committed later."""
    if since < 0 or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"Tham số không hợp lệ: since phải >= 0, limit từ 1 đến {MAX_LIMIT}.",
            f"Bad parameters: since must be >= 0 and limit between 1 and {MAX_LIMIT}.",
            code="bad_feed_query",
            details={"since": since, "limit": limit},
        )
    head = current_version(session)
    stmt = (
        select(Agency).where(Agency.dir_version > since, Agency.dir_version <= head).options(PARENT)
    )
    if node_code is not None:
        stmt = stmt.where(Agency.serving_node == node_code)
    agencies = list(session.scalars(stmt.order_by(Agency.dir_version).limit(limit + 1)))
    more = len(agencies) > limit
    agencies = agencies[:limit]
    successors = _successor_codes(session, [a.id for a in agencies])
    return {
        "since": since,
        "head": head,
        "records": [record_of(a, successors.get(a.id, [])) for a in agencies],
        "more": more,
    }


# ---- applying records --------------------------------------------------------------------


def _agency_code(value: str) -> str:
    try:
        return str(parse_code(value))
    except InvalidAgencyCode as exc:
        raise ValueError(exc.message_en) from None


Code = Annotated[str, AfterValidator(_agency_code)]


class DirectoryRecord(Contact):
    """A feed record as received. Unknown keys are ignored, so that a newer peer may add some."""

    model_config = ConfigDict(extra="ignore")

    code: Code
    old_code: Code | None = None
    version: int = Field(default=0, ge=0)
    deleted: bool | None = None
    status: AgencyStatus = AgencyStatus.ACTIVE
    status_effective_on: date | None = None
    name: str = Field(min_length=1, max_length=255)
    short_name: str | None = Field(default=None, max_length=120)
    kind: AgencyKind
    level: int | None = Field(default=None, ge=1, le=4)
    parent_code: Code | None = None
    admin_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    serving_node: str = Field(min_length=1, max_length=35)
    illustrative: bool = False
    successors: list[Code] = Field(default_factory=list)
    updated_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DirectoryRecord:
        if self.deleted is not None and self.deleted != (self.status != AgencyStatus.ACTIVE):
            raise ValueError("deleted does not match status")
        if self.parent_code == self.code:
            raise ValueError("an agency cannot be its own parent")
        if self.code in self.successors:
            raise ValueError("an agency cannot succeed itself")
        self.successors = list(dict.fromkeys(self.successors))
        return self

    def values(self) -> dict[str, Any]:
        """Column values for the agency, in the registry's terms."""
        out = {name: getattr(self, name) for name in FIELDS}
        out["kind"] = self.kind.value
        out["status"] = self.status.value
        out["level"] = self.level if self.level is not None else parse_code(self.code).level
        return out


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    renamed: int = 0
    unchanged: int = 0
    skipped: int = 0
    # Links to agencies this node does not know: left empty, not an error.
    missing_parents: int = 0
    missing_successors: int = 0


def _validate(records: Sequence[Any]) -> list[DirectoryRecord]:
    parsed: list[DirectoryRecord] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(records):
        code = raw.get("code") if isinstance(raw, dict) else None
        try:
            record = DirectoryRecord.model_validate(raw)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            errors.append({"index": index, "code": code, "problems": problems})
            continue
        if record.code in seen:
            problems = [{"field": "code", "message": f"repeats record {seen[record.code]}"}]
            errors.append({"index": index, "code": code, "problems": problems})
            continue
        seen[record.code] = index
        parsed.append(record)
    if errors:
        raise Invalid(
            f"{len(errors)} bản ghi danh bạ không hợp lệ; không bản ghi nào được áp dụng.",
            f"{len(errors)} directory records are invalid; nothing was applied.",
            code="bad_directory_record",
            details={"count": len(errors), "errors": errors[:MAX_REPORTED]},
        )
    return parsed


def _load(session: Session, codes: Iterable[str]) -> dict[str, Agency]:
    wanted = sorted(set(codes))
    out: dict[str, Agency] = {}
    for start in range(0, len(wanted), CHUNK):
        for agency in session.scalars(
            select(Agency).where(Agency.code.in_(wanted[start : start + CHUNK])).options(PARENT)
        ):
            out[agency.code] = agency
    return out


def _target(record: DirectoryRecord, local: dict[str, Agency]) -> Agency | None:
    """The local agency a record is about: by its code, else by the code it had before."""
    agency = local.get(record.code)
    if agency is None and record.old_code:
        agency = local.get(record.old_code)
    return agency


def in_code_range(node: str, code: str) -> bool:
    """Whether a node may speak for an agency code: its level-1 group is the node's code, or,
    for a province's node (H49), the same province's Party (A49) and Council (K49) groups."""
    level1 = code.rsplit(".", 1)[-1].upper()
    if level1 == node:
        return True
    return bool(_LEVEL1.match(node) and _LEVEL1.match(level1) and level1[1:] == node[1:])


_LEVEL1 = re.compile(r"^[A-Z]\d\d$")


def _check_pusher(records: list[DirectoryRecord], local: dict[str, Agency], node: str) -> None:
    """A node may push only agencies it serves, and may not take over another node's."""
    foreign: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        target = _target(record, local)
        old = local.get(record.old_code) if record.old_code else None
        if (
            record.serving_node != node
            or not in_code_range(node, record.code)
            or (target is not None and target.serving_node != node)
            or (old is not None and old.serving_node != node)
        ):
            foreign.append(
                {
                    "index": index,
                    "code": record.code,
                    "serving_node": target.serving_node if target else record.serving_node,
                }
            )
    if foreign:
        raise Forbidden(
            f"Nút {node} chỉ được gửi thông tin của các cơ quan do nút này phục vụ; "
            f"{len(foreign)} bản ghi thuộc nút khác. Không bản ghi nào được áp dụng.",
            f"Node {node} may only send agencies it serves; {len(foreign)} records belong to "
            "another node. Nothing was applied.",
            code="not_your_agency",
            details={"node": node, "count": len(foreign), "records": foreign[:MAX_REPORTED]},
        )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _current_links(session: Session, agency_ids: Sequence[int]) -> dict[int, dict[str, Succession]]:
    out: dict[int, dict[str, Succession]] = defaultdict(dict)
    for start in range(0, len(agency_ids), CHUNK):
        for link, code in session.execute(
            select(Succession, Agency.code)
            .join(Agency, Agency.id == Succession.successor_id)
            .where(Succession.predecessor_id.in_(agency_ids[start : start + CHUNK]))
        ):
            out[link.predecessor_id][code] = link
    return out


@dataclass
class _Change:
    record: DirectoryRecord
    agency: Agency
    created: bool
    changes: dict[str, Any]
    links: dict[str, Succession]  # successor code → row, as they were
    successors: list[Agency] | None = None  # set when the rows must be replaced


def apply(
    session: Session,
    *,
    records: list[dict[str, Any]],
    own_node: str,
    only_node: str | None = None,
    actor: str,
) -> ApplyResult:
    """Bring local agencies in line with a peer's records. All or nothing: any bad record, or
    in a push (`only_node`) any record of another node's agency, refuses the whole batch.
    Records of agencies this node serves are skipped: it is their authority. Idempotent."""
    parsed = _validate(records)
    local = _load(
        session,
        (
            code
            for r in parsed
            for code in (r.code, r.old_code, r.parent_code, *r.successors)
            if code
        ),
    )
    if only_node is not None:
        _check_pusher(parsed, local, only_node)
    result = ApplyResult()
    todo: list[DirectoryRecord] = []
    for record in parsed:
        target = _target(record, local)
        if record.serving_node == own_node or (target and target.serving_node == own_node):
            result.skipped += 1
        else:
            todo.append(record)

    renamed: set[str] = set()
    for record in todo:
        old = local.get(record.old_code) if record.old_code else None
        # A rename is followed only within one node: a record cannot take over an agency that
        # another node serves by naming it as its old code.
        if old is not None and record.code not in local and old.serving_node == record.serving_node:
            previous = old.code
            registry.rename(session, code=previous, new_code=record.code, actor=actor)
            local[record.code] = local.pop(previous)
            renamed.add(record.code)
    result.renamed = len(renamed)

    # Everything below is decided in memory first, then written in two flushes.
    known = [local[r.code].id for r in todo if r.code in local]
    links = _current_links(session, known)
    now = utcnow()
    work: list[_Change] = []
    for record in todo:
        values = record.values()
        found = local.get(record.code)
        if found is None:
            agency = Agency(code=record.code, created_at=now, updated_at=now, **values)
            session.add(agency)
            local[record.code] = agency
            created = {k: _plain(v) for k, v in values.items() if v is not None}
            work.append(_Change(record, agency, True, created, {}))
            continue
        changes: dict[str, Any] = {}
        for name, value in values.items():
            old = getattr(found, name)
            if old != value:
                changes[name] = [_plain(old), _plain(value)]
                setattr(found, name, value)
        work.append(_Change(record, found, False, changes, links.get(found.id, {})))

    # Links, now that every agency of the batch exists: parents, then successors.
    for item in work:
        parent = local.get(item.record.parent_code) if item.record.parent_code else None
        if item.record.parent_code and parent is None:
            result.missing_parents += 1
        if item.agency.parent is not parent:
            old_parent = item.agency.parent.code if item.agency.parent else None
            if not item.created:
                item.changes["parent_code"] = [old_parent, parent.code if parent else None]
            else:
                item.changes["parent_code"] = parent.code if parent else None
            item.agency.parent = parent
        successors = [local[c] for c in item.record.successors if c in local]
        result.missing_successors += len(item.record.successors) - len(successors)
        wanted = sorted(s.code for s in successors)
        if wanted != sorted(item.links):
            item.changes["successors"] = wanted if item.created else [sorted(item.links), wanted]
            item.successors = successors

    for item in work:
        if item.created:
            result.created += 1
        elif item.changes:
            result.updated += 1
        else:
            if item.record.code not in renamed:
                result.unchanged += 1
            continue
        agency = item.agency
        agency.search_text = registry.search_text_for(agency.name, agency.short_name, agency.code)
        agency.updated_at = item.record.updated_at or now
        # Rows between agencies that already have ids go in the same flush as the fields, so
        # the agency takes one version; the rest need the first flush's ids.
        if (
            item.successors is not None
            and not item.created
            and all(s.id is not None for s in item.successors)
        ):
            _replace_links(session, item)
    session.flush()

    for item in work:
        if item.successors is not None:
            _replace_links(session, item)
    events = [
        {
            "agency_id": i.agency.id,
            "at": now,
            "actor": actor,
            "action": "sync",
            "changes": i.changes,
        }
        for i in work
        if i.changes
    ]
    if events:
        # History rows are never read back here: one executemany instead of one object each.
        session.execute(insert(AgencyEvent), events)
    session.flush()
    return result


def _replace_links(session: Session, item: _Change) -> None:
    assert item.successors is not None
    wanted = {s.code: s for s in item.successors}
    for code, link in item.links.items():
        if code not in wanted:
            session.delete(link)
    effective_on = item.agency.status_effective_on or local_today()
    for code, successor in wanted.items():
        if code not in item.links:
            session.add(
                Succession(
                    predecessor_id=item.agency.id,
                    successor_id=successor.id,
                    effective_on=effective_on,
                )
            )
    item.successors = None  # done
