"""The one-stop officer's pages: the queue, a dossier with the actions its status allows, the
supplement notice; and the leader's overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lienthong.accounts.deps import PagePrincipal, check_csrf
from lienthong.accounts.service import Principal
from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import AppError, Forbidden
from lienthong.onestop import catalogue, kpis, processing, queries, service, supplements
from lienthong.onestop.models import STATUS_LABELS, Procedure
from lienthong.onestop.pages import PAGE_SIZE, _ctx, _owned, confirmation_needed, submit_filing
from lienthong.registry.models import Agency, AgencyStatus
from lienthong.web.deps import DB, AppSettings, NodeRuntime, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
DUE_FILTERS = {
    "late": ("Đã quá hạn", "Late"),
    "today": ("Đến hạn hôm nay", "Due today"),
    "week": ("Đến hạn trong 7 ngày", "Due within 7 days"),
}


def _handling_choices(db: DB, node_code: str) -> list[Agency]:
    """Agencies a step can be handed to: this node's own active agencies down to level 2."""
    return list(
        db.scalars(
            select(Agency)
            .where(
                Agency.status == AgencyStatus.ACTIVE.value,
                Agency.serving_node == node_code,
                Agency.level <= 2,
            )
            .order_by(Agency.level, Agency.search_text)
        )
    )


def _officer(principal: Principal) -> processing.Officer:
    officer = processing.officer_for(principal.grants, principal.user_id or 0, principal.name)
    if not officer.agency_codes:
        raise Forbidden(
            "Trang này dành cho cán bộ một cửa.",
            "This page is for one-stop officers.",
            code="forbidden",
        )
    return officer


@router.get("/mot-cua", response_class=HTMLResponse)
def officer_queue(
    request: Request,
    db: DB,
    principal: PagePrincipal,
    status: Annotated[str, Query(max_length=3)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    q: Annotated[str, Query(max_length=200)] = "",
    procedure: Annotated[str, Query(max_length=64)] = "",
    due: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    officer = _officer(principal)
    statuses = [int(status)] if status.isdigit() and int(status) in STATUS_LABELS else None
    procedures = list(db.scalars(select(Procedure).order_by(Procedure.name)))
    chosen = next((p for p in procedures if p.code == procedure), None)
    rows, total = queries.queue(
        db,
        agency_codes=officer.agency_codes,
        statuses=statuses,
        page=page,
        page_size=PAGE_SIZE,
        q=q,
        procedure_id=chosen.id if chosen else None,
        due=due if due in DUE_FILTERS else "",
    )
    names = queries.procedure_names(db, rows)
    return render(
        request,
        "onestop/queue.html",
        _ctx(
            request,
            rows=rows,
            total=total,
            page=page,
            page_size=PAGE_SIZE,
            status=status,
            names=names,
            urgency=queries.urgency,
            statuses=STATUS_LABELS,
            supplied=supplements.unreviewed(db, [d.id for d in rows]),
            q=q,
            procedure=procedure,
            procedures=procedures,
            due=due,
            due_filters={
                k: v[1 if language(request) == "en" else 0] for k, v in DUE_FILTERS.items()
            },
        ),
    )


@router.get("/mot-cua/ho-so/{code}", response_class=HTMLResponse)
def officer_dossier(
    request: Request,
    code: str,
    db: DB,
    settings: AppSettings,
    principal: PagePrincipal,
    error: str | None = None,
    done: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    _officer(principal)
    dossier = _owned(db, code, principal)
    procedure = db.get_one(Procedure, dossier.procedure_id)
    request_ = supplements.latest_request(db, dossier)
    view = queries.public_view(db, dossier, language(request))
    return render(
        request,
        "onestop/dossier.html",
        _ctx(
            request,
            d=dossier,
            view=view,
            papers=queries.papers(db, dossier),
            officer=True,
            actions=processing.allowed_actions(dossier),
            done=done if done in processing.ACTION_LABELS else "",
            supplement=request_,
            procedure_papers=[p["name"] for p in procedure.papers],
            default_days=supplements.DEFAULT_DAYS,
            hops=queries.hand_overs(db, dossier),
            error=error,
            urgency=queries.urgency(dossier),
            payments=[],
            irreversible=processing.IRREVERSIBLE,
            officers=processing.officers_of(db, dossier),
            agencies=_handling_choices(db, settings.node_code),
        ),
    )


@router.post("/mot-cua/ho-so/{code}")
async def officer_act(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    action: Annotated[str, Form(max_length=32)],
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    to_unit: Annotated[str, Form(max_length=255)] = "",
    to_agency: Annotated[str, Form(max_length=64)] = "",
    assignee: Annotated[str, Form(max_length=12)] = "",
    results: Annotated[list[UploadFile] | None, File()] = None,
    papers: Annotated[list[str] | None, Form()] = None,
    other_papers: Annotated[str, Form(max_length=2000)] = "",
    days: Annotated[str, Form(max_length=3)] = "",
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    officer = _officer(principal)
    if action in processing.IRREVERSIBLE and confirm != "1":
        return officer_dossier(
            request, code, db, runtime.settings, principal, error=confirmation_needed(request)
        )
    uploads = [
        service.Upload("Kết quả giải quyết", f.filename or "ket-qua.pdf", f.file)
        for f in results or []
        if f.filename
    ]

    def run() -> None:
        processing.act(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            code=code,
            action=action,
            officer=officer,
            reason=reason or None,
            to_unit=to_unit or None,
            to_agency=to_agency or None,
            assignee_id=int(assignee) if assignee.isdigit() else None,
            results=uploads,
            papers=[*(papers or []), *other_papers.split(";")],
            days=int(days) if days.isdigit() else None,
        )

    try:
        await run_in_threadpool(run)
    except AppError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return officer_dossier(
            request, code, db, runtime.settings, principal, error=exc.message(language(request))
        )
    return RedirectResponse(f"/mot-cua/ho-so/{code}?done={action}", status_code=303)


@router.post("/mot-cua/ho-so/{code}/da-xem-bo-sung")
def supplement_reviewed(
    request: Request,
    code: str,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    _officer(principal)
    supplements.review(db, _owned(db, code, principal))
    return RedirectResponse(f"/mot-cua/ho-so/{code}", status_code=303)


@router.get("/tong-quan", response_class=HTMLResponse)
def overview(
    request: Request, db: DB, settings: AppSettings, principal: PagePrincipal
) -> HTMLResponse:
    """The leader's honest summary: this year's one-stop figures of the agencies they lead (the
    whole node for the node's own leaders), counted the Decision 766 way."""
    held = principal.agencies_in("leader", "ioc", "admin")
    if not held:
        raise Forbidden(
            "Trang này dành cho lãnh đạo.", "This page is for leaders.", code="forbidden"
        )
    whole_node = settings.node_agency_code in held
    ids = (
        None
        if whole_node
        else [a.id for a in db.scalars(select(Agency).where(Agency.code.in_(held)))]
    )
    end = local_today()
    report = kpis.report(db, agency_ids=ids, date_from=end.replace(month=1, day=1), date_to=end)
    names = [g.agency_name for g in principal.grants if g.agency_code in held]
    return render(
        request,
        "onestop/overview.html",
        _ctx(request, report=report, whole_node=whole_node, names=sorted(set(names))),
    )


def _counter_communes(db: DB, officer: processing.Officer) -> list[Agency]:
    """At the counter a commune-level dossier is filed at the officer's own agency."""
    return list(
        db.scalars(
            select(Agency)
            .where(Agency.code.in_(officer.agency_codes), Agency.status == AgencyStatus.ACTIVE)
            .order_by(Agency.search_text)
        )
    )


@router.get("/mot-cua/nop", response_class=HTMLResponse)
def counter_start(
    request: Request,
    db: DB,
    principal: PagePrincipal,
    thu_tuc: Annotated[str, Query(alias="thu-tuc", max_length=64)] = "",
) -> Response:
    """Filing at the counter for a citizen who came in person: choose the procedure."""
    _officer(principal)
    if thu_tuc:
        return RedirectResponse(f"/mot-cua/nop/{thu_tuc}", status_code=303)
    procedures = list(db.scalars(select(Procedure).order_by(Procedure.name)))
    return render(request, "onestop/counter.html", _ctx(request, procedures=procedures))


@router.get("/mot-cua/nop/{code}", response_class=HTMLResponse)
def counter_form(request: Request, code: str, db: DB, principal: PagePrincipal) -> HTMLResponse:
    officer = _officer(principal)
    procedure = catalogue.get_procedure(db, code=code)
    return render(
        request,
        "onestop/file.html",
        _ctx(
            request,
            p=procedure,
            communes=_counter_communes(db, officer),
            values={},
            counter=True,
        ),
    )


@router.post("/mot-cua/nop/{code}")
async def counter_submit(
    request: Request, code: str, db: DB, runtime: NodeRuntime, principal: PagePrincipal
) -> Response:
    officer = _officer(principal)
    return await submit_filing(
        request,
        code,
        db,
        runtime,
        principal,
        channel="counter",
        officer_id=officer.user_id,
        communes=_counter_communes(db, officer),
    )
