"""What netmon reads from the registry: site names and codes, and each site's area — the former
city or district its predecessor communes belonged to (the registry's successions), or the
province for the provincial bodies. Read-only."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lienthong.registry.models import Agency, AgencyKind, Succession

PROVINCE_AREA = ("", "Cấp tỉnh")


@dataclass(frozen=True)
class Site:
    id: int
    code: str
    name: str
    area_code: str
    area_name: str


def sites(session: Session, ids: Iterable[int]) -> dict[int, Site]:
    wanted = set(ids)
    if not wanted:
        return {}
    found = {
        a.id: a
        for a in session.scalars(select(Agency).where(Agency.id.in_(wanted)).execution_options())
    }
    predecessor, district = aliased(Agency), aliased(Agency)
    rows = session.execute(
        select(Succession.successor_id, district.code, district.name)
        .join(predecessor, predecessor.id == Succession.predecessor_id)
        .join(district, district.id == predecessor.parent_id)
        .where(Succession.successor_id.in_(wanted), district.kind == AgencyKind.DISTRICT.value)
    ).all()
    votes: dict[int, Counter[tuple[str, str]]] = defaultdict(Counter)
    for successor_id, code, name in rows:
        votes[successor_id][(code, name)] += 1
    out = {}
    for agency_id, agency in found.items():
        area = (
            votes[agency_id].most_common(1)[0][0]
            if votes.get(agency_id)
            else (agency.parent.code, agency.parent.name)
            if agency.parent is not None and agency.parent.kind == AgencyKind.DISTRICT.value
            else PROVINCE_AREA
        )
        out[agency_id] = Site(agency.id, agency.code, agency.name, area[0], area[1])
    return out


def name(session: Session, *, site_id: int) -> str:
    agency = session.get(Agency, site_id)
    return agency.name if agency is not None else str(site_id)


def areas(session: Session) -> list[tuple[str, str]]:
    """The former cities and districts, for the board's filter."""
    return [
        (code, n)
        for code, n in session.execute(
            select(Agency.code, Agency.name)
            .where(Agency.kind == AgencyKind.DISTRICT.value)
            .order_by(Agency.name)
        ).all()
    ]


def codes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(wanted))).all()
    return {int(agency_id): str(code) for agency_id, code in rows}
