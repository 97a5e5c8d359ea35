"""Registry pages for people: the tree by level, search, and one page per agency."""

from __future__ import annotations

import enum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from lienthong.accounts.deps import OptionalPrincipal, PagePrincipal
from lienthong.registry import service
from lienthong.registry.models import (
    COMMUNE_LEVEL_KINDS,
    KIND_LABELS,
    STATUS_LABELS,
    Agency,
    AgencyKind,
    AgencyStatus,
)
from lienthong.web.deps import DB, AppSettings, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
E = TypeVar("E", bound=enum.Enum)


def _choice(enum_type: type[E], value: str) -> E | None:
    try:
        return enum_type(value) if value else None
    except ValueError:
        return None


def _labels(lang: str) -> dict[str, dict[str, str]]:
    i = 1 if lang == "en" else 0
    return {
        "kind": {k.value: v[i] for k, v in KIND_LABELS.items()},
        "status": {k.value: v[i] for k, v in STATUS_LABELS.items()},
    }


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, db: DB, settings: AppSettings, principal: OptionalPrincipal
) -> HTMLResponse:
    active = AgencyStatus.ACTIVE.value
    counts = {
        "active": db.scalar(select(func.count()).where(Agency.status == active)) or 0,
        "inactive": db.scalar(select(func.count()).where(Agency.status != active)) or 0,
        "communes": db.scalar(
            select(func.count()).where(
                Agency.status == active,
                Agency.kind.in_([k.value for k in COMMUNE_LEVEL_KINDS]),
                Agency.serving_node == settings.node_code,
            )
        )
        or 0,
    }
    home_agency = service.get_agency(db, code=settings.node_agency_code)
    return render(
        request,
        "home.html",
        {"counts": counts, "home": home_agency, "node_code": settings.node_code},
    )


@router.get("/registry", response_class=HTMLResponse)
def registry_index(
    request: Request,
    db: DB,
    settings: AppSettings,
    principal: PagePrincipal,
    q: Annotated[str, Query(max_length=200)] = "",
    status_filter: Annotated[str, Query(alias="status", max_length=20)] = "",
    kind_filter: Annotated[str, Query(alias="kind", max_length=40)] = "",
    level_filter: Annotated[str, Query(alias="level", max_length=2)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    former: bool = False,
) -> HTMLResponse:
    # A form's empty <select> sends "status=": that means "any", not an error.
    status = _choice(AgencyStatus, status_filter)
    kind = _choice(AgencyKind, kind_filter)
    level = int(level_filter) if level_filter in ("1", "2", "3", "4") else None
    searching = bool(q.strip()) or status is not None or kind is not None or level is not None
    context: dict[str, object] = {
        "q": q,
        "status": status.value if status else "",
        "kind": kind.value if kind else "",
        "level": level or "",
        "former": former,
        "searching": searching,
        "labels": _labels(language(request)),
        "kinds": list(AgencyKind),
        "statuses": list(AgencyStatus),
    }
    if searching:
        items, total = service.list_agencies(
            db, q=q, status=status, kind=kind, level=level, page=page, page_size=PAGE_SIZE
        )
        context.update(
            items=service.describe(db, items), total=total, page=page, page_size=PAGE_SIZE
        )
    else:
        roots = db.scalars(
            select(Agency)
            .where(Agency.parent_id.is_(None), Agency.serving_node == settings.node_code)
            .order_by(Agency.code.desc())
        ).all()
        # UBND tỉnh first, then the Party committee and the People's Council.
        roots = sorted(roots, key=lambda a: (a.code != settings.node_agency_code, a.code))
        context["trees"] = [
            service.tree(db, root_code=r.code, depth=2, include_inactive=former) for r in roots
        ]
        context["directory_total"] = db.scalar(
            select(func.count()).where(Agency.level == 1, Agency.serving_node != settings.node_code)
        )
    return render(request, "registry/index.html", context)


@router.get("/registry/{code}", response_class=HTMLResponse)
def agency_page(
    request: Request,
    code: str,
    db: DB,
    principal: PagePrincipal,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    former: bool = False,
) -> HTMLResponse:
    agency = service.get_agency(db, code=code)
    detail = service.describe(db, [agency])[0]
    related_codes = [*detail["successor_codes"], *detail["predecessor_codes"]]
    related = (
        {a.code: a for a in db.scalars(select(Agency).where(Agency.code.in_(related_codes)))}
        if related_codes
        else {}
    )
    children, children_total = service.list_agencies(
        db,
        parent_code=agency.code,
        status=None if former else AgencyStatus.ACTIVE,
        page=page,
        page_size=PAGE_SIZE,
    )
    events, events_total = service.history(db, code=agency.code, page=1, page_size=20)
    return render(
        request,
        "registry/agency.html",
        {
            "agency": agency,
            "detail": detail,
            "successors": [related[c] for c in detail["successor_codes"] if c in related],
            "predecessors": [related[c] for c in detail["predecessor_codes"] if c in related],
            "children": children,
            "children_total": children_total,
            "page": page,
            "page_size": PAGE_SIZE,
            "former": former,
            "events": events,
            "events_total": events_total,
            "labels": _labels(language(request)),
        },
    )
