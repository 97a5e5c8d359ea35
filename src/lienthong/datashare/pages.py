"""Pages of shared data (Vietnamese first, usable on a phone): the catalogue and a dataset's
page, the agency's requests, grants and calls, the sharing log, and "Dữ liệu của tôi"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lienthong.accounts.deps import (
    Acting,
    OptionalPrincipal,
    PagePrincipal,
    check_csrf,
    page_acting_for,
)
from lienthong.accounts.models import Role, SystemCredential
from lienthong.datashare import access, catalogue, queries, sharelog
from lienthong.datashare.api import AGENCY_ROLES
from lienthong.datashare.models import ITEM_CLASS_LABELS
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.registry.models import Agency
from lienthong.web.deps import DB, AppSettings, language
from lienthong.web.render import csv_download, render

router = APIRouter(include_in_schema=False)
PageAgency = Annotated[Acting, Depends(page_acting_for(*AGENCY_ROLES))]
PAGE_SIZE = 20
STATE_LABELS = {
    "pending": ("Chờ trả lời", "Pending"),
    "approved": ("Đã chấp thuận", "Approved"),
    "refused": ("Đã từ chối", "Refused"),
    "active": ("Đang hiệu lực", "Active"),
    "suspended": ("Tạm dừng", "Suspended"),
    "revoked": ("Đã chấm dứt", "Revoked"),
}


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    i = 1 if language(request) == "en" else 0
    return {
        "class_label": lambda c: ITEM_CLASS_LABELS[c][i],
        "state_label": lambda s: STATE_LABELS.get(s, (s, s))[i],
        **values,
    }


@router.get("/du-lieu", response_class=HTMLResponse)
def catalogue_page(
    request: Request,
    db: DB,
    principal: OptionalPrincipal,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    rows, total = catalogue.list_datasets(db, q=q or None, page=page, page_size=PAGE_SIZE)
    return render(
        request,
        "datashare/catalogue.html",
        _ctx(
            request,
            rows=rows,
            total=total,
            q=q,
            page=page,
            page_size=PAGE_SIZE,
            reader=queries.is_agency_reader(principal),
        ),
    )


@router.get("/du-lieu/bo/{code}", response_class=HTMLResponse)
def dataset_page(request: Request, code: str, db: DB, principal: OptionalPrincipal) -> HTMLResponse:
    dataset = catalogue.get_dataset(db, code=code)
    owner = db.get(Agency, dataset.owner_agency_id)
    reader = queries.is_agency_reader(principal)
    systems: list[str] = []
    if principal is not None:
        codes = principal.agencies_in(*[r.value for r in AGENCY_ROLES])
        systems = [
            s.system_id
            for s in db.query(SystemCredential)
            .join(Agency, Agency.id == SystemCredential.agency_id)
            .filter(Agency.code.in_(codes), SystemCredential.revoked_at.is_(None))
            .order_by(SystemCredential.system_id)
        ]
    return render(
        request,
        "datashare/dataset.html",
        _ctx(
            request,
            d=dataset,
            owner=owner,
            reader=reader,
            items=catalogue.visible_items(dataset, agency_reader=reader),
            services=catalogue.services_of(db, dataset),
            systems=systems,
            error=None,
        ),
    )


@router.post("/du-lieu/bo/{code}/yeu-cau")
def request_submit(
    request: Request,
    code: str,
    db: DB,
    acting: PageAgency,
    settings: AppSettings,
    service: Annotated[str, Form(max_length=64)],
    consumer_system: Annotated[str, Form(max_length=80)],
    purpose: Annotated[str, Form(max_length=2000)] = "",
    legal_basis: Annotated[str, Form(max_length=2000)] = "",
    frequency: Annotated[str, Form(max_length=100)] = "",
    days: Annotated[int, Form(ge=1, le=3650)] = 365,
    items: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, acting.principal, csrf_token)
    now = utcnow()
    ask = access.Ask(
        dataset_code=code,
        service_code=service,
        consumer_system=consumer_system,
        items=items or [],
        purpose=purpose,
        legal_basis=legal_basis,
        frequency=frequency,
        period_from=now,
        period_to=now + timedelta(days=days),
    )
    access.request_access(
        db,
        settings=settings,
        consumer_code=acting.agency_code,
        ask=ask,
        requested_by_id=acting.principal.user_id,
    )
    return RedirectResponse(f"/du-lieu/yeu-cau?agency={acting.agency_code}&sent=1", status_code=303)


@router.get("/du-lieu/yeu-cau", response_class=HTMLResponse)
def requests_page(
    request: Request,
    db: DB,
    acting: PageAgency,
    sent: Annotated[int, Query(ge=0, le=1)] = 0,
) -> HTMLResponse:
    ids = queries.agency_ids(db, [acting.agency_code])
    incoming, _n = access.list_requests(db, owner_ids=ids, page_size=100)
    outgoing, _m = access.list_requests(db, consumer_ids=ids, page_size=100)
    grants_owner, _g = access.list_grants(db, owner_ids=ids, page_size=100)
    grants_mine, _h = access.list_grants(db, consumer_ids=ids, page_size=100)
    return render(
        request,
        "datashare/requests.html",
        _ctx(
            request,
            acting=acting,
            is_admin=acting.principal.has_role(Role.ADMIN, acting.agency_code),
            incoming=queries.requests_json(db, incoming),
            outgoing=queries.requests_json(db, outgoing),
            grants_owner=queries.grants_json(db, grants_owner),
            grants_mine=queries.grants_json(db, grants_mine),
            sent=bool(sent),
        ),
    )


@router.post("/du-lieu/yeu-cau/{request_id}/{decision}")
def decide(
    request: Request,
    request_id: int,
    decision: str,
    db: DB,
    acting: Annotated[Acting, Depends(page_acting_for(Role.ADMIN))],
    reason: Annotated[str, Form(max_length=2000)] = "",
    days: Annotated[int, Form(ge=0, le=3650)] = 0,
    items: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, acting.principal, csrf_token)
    if decision == "chap-thuan":
        access.approve(
            db,
            request_id=request_id,
            acting_code=acting.agency_code,
            actor_id=acting.principal.user_id,
            items=items or None,
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
    elif decision == "tu-choi":
        access.refuse(
            db,
            request_id=request_id,
            acting_code=acting.agency_code,
            actor_id=acting.principal.user_id,
            reason=reason,
        )
    else:
        raise AppError("Không rõ quyết định.", "Unknown decision.", code="invalid_request")
    return RedirectResponse(f"/du-lieu/yeu-cau?agency={acting.agency_code}", status_code=303)


@router.post("/du-lieu/quyen/{grant_id}/{action}")
def grant_action(
    request: Request,
    grant_id: int,
    action: str,
    db: DB,
    acting: Annotated[Acting, Depends(page_acting_for(Role.ADMIN))],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, acting.principal, csrf_token)
    if action not in ("suspend", "resume", "revoke"):
        raise AppError("Không rõ thao tác.", "Unknown action.", code="invalid_request")
    access.change_grant(
        db,
        grant_id=grant_id,
        action=action,
        acting_code=acting.agency_code,
        actor_id=acting.principal.user_id,
        reason=reason,
    )
    return RedirectResponse(f"/du-lieu/yeu-cau?agency={acting.agency_code}", status_code=303)


@router.get("/du-lieu/nhat-ky", response_class=HTMLResponse)
def log_page(
    request: Request,
    db: DB,
    acting: PageAgency,
    dataset: Annotated[str, Query(max_length=64)] = "",
    outcome: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    ids = queries.agency_ids(db, [acting.agency_code])
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            start = None
    rows, total = sharelog.list_calls(
        db,
        owner_ids=ids,
        consumer_ids=ids,
        dataset=dataset or None,
        outcome=outcome or None,
        since=start,
        page=page,
        page_size=50,
    )
    return render(
        request,
        "datashare/log.html",
        _ctx(
            request,
            acting=acting,
            calls=queries.calls_json(db, rows),
            total=total,
            dataset=dataset,
            outcome=outcome,
            since=since,
            page=page,
            page_size=50,
        ),
    )


@router.get("/du-lieu-cua-toi", response_class=HTMLResponse)
def my_data(
    request: Request,
    db: DB,
    principal: PagePrincipal,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    usage = queries.usage_json(db, user_id=principal.user_id or 0, page=page, page_size=50)
    return render(
        request,
        "datashare/mine.html",
        _ctx(request, usage=usage, page=page, page_size=50, total=usage["total"]),
    )


@router.get("/du-lieu-cua-toi.csv")
def my_data_csv(db: DB, principal: PagePrincipal) -> Response:
    import csv
    import io

    usage = queries.usage_json(db, user_id=principal.user_id or 0, page=1, page_size=100_000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "thoi_diem",
            "so_dinh_danh",
            "co_quan",
            "ten_co_quan",
            "bo_du_lieu",
            "truong_du_lieu",
            "muc_dich",
        ]
    )
    for u in usage["items"]:
        writer.writerow(
            [
                u["at"].isoformat(),
                u["subject"],
                u["agency"],
                u["agency_name"],
                u["dataset"],
                " ".join(u["items"]),
                u["purpose"] or "",
            ]
        )
    return csv_download("\ufeff" + buffer.getvalue(), "du-lieu-cua-toi.csv")
