"""JSON API of shared data: the catalogue, access requests and grants, the sharing log, the
gateway itself, and the citizen's "who used my data"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from lienthong.accounts.deps import Acting, CurrentPrincipal, OptionalPrincipal, acting_for
from lienthong.accounts.models import Role
from lienthong.datashare import access, catalogue, gateway, queries, sharelog
from lienthong.datashare.schemas import (
    AccessRequestIn,
    AccessRequestOut,
    AccessRequestPage,
    ApproveIn,
    CallPage,
    DatasetOut,
    DatasetPage,
    GatewayAnswer,
    GrantOut,
    GrantPage,
    ReasonIn,
    ServiceIn,
    ServiceOut,
    UsagePage,
)
from lienthong.kernel.errors import Forbidden
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.web.deps import DB, PRINTABLE, AppSettings, Lang, NodeRuntime, Pk, client_address
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, errors
from lienthong.web.render import csv_download

router = APIRouter(prefix="/api/v1/data", tags=["shared data"])
me_router = APIRouter(prefix="/api/v1/me", tags=["shared data"])

AGENCY_ROLES = (Role.ADMIN, Role.LEADER, Role.OFFICER, Role.CLERK)
AgencyPerson = Annotated[Acting, Depends(acting_for(*AGENCY_ROLES))]
AgencyCaller = Annotated[Acting, Depends(acting_for(*AGENCY_ROLES, software=True))]
OwnerAdmin = Annotated[Acting, Depends(acting_for(Role.ADMIN))]
Code = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Filter = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]
# Parameters of the gateway that are not filters of a search.
GATEWAY_PARAMS = frozenset({"key", "fields", "cursor", "offset", "limit", "agency"})


@router.get("/datasets", response_model=DatasetPage, responses=errors(401, 429))
def list_datasets(
    db: DB,
    principal: OptionalPrincipal,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    database: Filter = None,
    owner: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None,
    field: Filter = None,
    open_only: bool = False,
    page: PageNo = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    """Public for open items; every agency browses the rest."""
    rows, total = catalogue.list_datasets(
        db,
        q=q,
        database=database,
        owner=owner,
        field=field,
        open_only=open_only,
        page=page,
        page_size=page_size,
    )
    reader = queries.is_agency_reader(principal)
    return {
        "items": [queries.dataset_json(db, d, a, agency_reader=reader) for d, a in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/datasets/{code}", response_model=DatasetOut, responses=errors(401, 404, 429))
def get_dataset(code: Code, db: DB, principal: OptionalPrincipal) -> dict[str, Any]:
    dataset = catalogue.get_dataset(db, code=code)
    from lienthong.registry.models import Agency

    owner = db.get(Agency, dataset.owner_agency_id)
    assert owner is not None
    return queries.dataset_json(
        db, dataset, owner, agency_reader=queries.is_agency_reader(principal)
    )


@router.get(
    "/datasets/{code}/services/{service}/openapi.json",
    response_model=dict[str, Any],
    responses=errors(401, 404, 429),
)
def service_openapi(
    code: Code, service: Code, db: DB, principal: OptionalPrincipal
) -> dict[str, Any]:
    """The service's OpenAPI 3 description; the public sees only its open items."""
    dataset = catalogue.get_dataset(db, code=code)
    found = catalogue.get_service(db, dataset=dataset, code=service)
    reader = queries.is_agency_reader(principal)
    items = [i["name"] for i in catalogue.visible_items(dataset, agency_reader=reader)]
    return catalogue.openapi_for(dataset, found, items)


@router.post(
    "/datasets/{code}/services",
    response_model=ServiceOut,
    status_code=201,
    responses={**WITH_BODY, **SIGNED_IN, **errors(404, 409)},
)
def register_service(code: Code, body: ServiceIn, db: DB, acting: OwnerAdmin) -> dict[str, Any]:
    """The owner's administrator publishes a service: hosted, or upstream with the OpenAPI 3
    description of the agency's own system (it must describe the path the kind calls)."""
    dataset = catalogue.get_dataset(db, code=code)
    service = catalogue.register_service(
        db,
        dataset=dataset,
        acting_code=acting.agency_code,
        code=body.code,
        kind=body.kind,
        provider=body.provider,
        upstream_url=body.upstream_url,
        upstream_openapi=body.upstream_openapi,
        timeout_ms=body.timeout_ms,
        max_response_bytes=body.max_response_bytes,
    )
    return {
        "code": service.code,
        "kind": service.kind,
        "provider": service.provider,
        "openapi_url": f"/api/v1/data/datasets/{dataset.code}/services/{service.code}/openapi.json",
    }


@router.post(
    "/requests",
    response_model=AccessRequestOut,
    status_code=201,
    responses={**WITH_BODY, **SIGNED_IN, **errors(404)},
)
def request_access(
    body: AccessRequestIn, db: DB, acting: AgencyPerson, settings: AppSettings
) -> dict[str, Any]:
    """A consumer agency asks for access (Decree 47/2020 art. 35); the owner answers within
    2 working days."""
    request = access.request_access(
        db,
        settings=settings,
        consumer_code=acting.agency_code,
        ask=access.Ask(
            dataset_code=body.dataset,
            service_code=body.service,
            consumer_system=body.consumer_system,
            items=body.items,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            frequency=body.frequency,
            period_from=body.period_from,
            period_to=body.period_to,
        ),
        requested_by_id=acting.principal.user_id,
    )
    return queries.requests_json(db, [request])[0]


@router.get("/requests", response_model=AccessRequestPage, responses=SIGNED_IN)
def list_requests(
    db: DB,
    acting: AgencyCaller,
    side: Literal["owner", "consumer", "both"] = "both",
    state: Literal["pending", "approved", "refused"] | None = None,
    page: PageNo = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    """Requests to the caller's agency as owner (its queue) and from it as consumer."""
    ids = queries.agency_ids(db, [acting.agency_code])
    rows, total = access.list_requests(
        db,
        owner_ids=ids if side != "consumer" else [],
        consumer_ids=ids if side != "owner" else [],
        state=state,
        page=page,
        page_size=page_size,
    )
    return {
        "items": queries.requests_json(db, rows),
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.post(
    "/requests/{request_id}/approve",
    response_model=GrantOut,
    responses={**WITH_BODY, **SIGNED_IN, **errors(404, 409)},
)
def approve(request_id: Pk, body: ApproveIn, db: DB, acting: OwnerAdmin) -> dict[str, Any]:
    """The owner's administrator approves, optionally narrowing the items and setting an
    expiry: a new grant."""
    grant = access.approve(
        db,
        request_id=request_id,
        acting_code=acting.agency_code,
        actor_id=acting.principal.user_id,
        items=body.items,
        expires_at=body.expires_at,
        rate_per_minute=body.rate_per_minute,
    )
    return queries.grants_json(db, [grant])[0]


@router.post(
    "/requests/{request_id}/refuse",
    response_model=AccessRequestOut,
    responses={**WITH_BODY, **SIGNED_IN, **errors(404, 409)},
)
def refuse(request_id: Pk, body: ReasonIn, db: DB, acting: OwnerAdmin) -> dict[str, Any]:
    request = access.refuse(
        db,
        request_id=request_id,
        acting_code=acting.agency_code,
        actor_id=acting.principal.user_id,
        reason=body.reason,
    )
    return queries.requests_json(db, [request])[0]


@router.get("/grants", response_model=GrantPage, responses=SIGNED_IN)
def list_grants(
    db: DB,
    acting: AgencyCaller,
    side: Literal["owner", "consumer", "both"] = "both",
    state: Literal["active", "suspended", "revoked"] | None = None,
    history: bool = False,
    page: PageNo = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    ids = queries.agency_ids(db, [acting.agency_code])
    rows, total = access.list_grants(
        db,
        owner_ids=ids if side != "consumer" else [],
        consumer_ids=ids if side != "owner" else [],
        state=state,
        history=history,
        page=page,
        page_size=page_size,
    )
    return {
        "items": queries.grants_json(db, rows),
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.post(
    "/grants/{grant_id}/{action}",
    response_model=GrantOut,
    responses={**WITH_BODY, **SIGNED_IN, **errors(404, 409)},
)
def change_grant(
    grant_id: Pk,
    action: Literal["suspend", "resume", "revoke"],
    body: ReasonIn,
    db: DB,
    acting: OwnerAdmin,
) -> dict[str, Any]:
    """Suspend (with the breach and remedy), resume or revoke: a new grant replaces it."""
    grant = access.change_grant(
        db,
        grant_id=grant_id,
        action=action,
        acting_code=acting.agency_code,
        actor_id=acting.principal.user_id,
        reason=body.reason,
    )
    return queries.grants_json(db, [grant])[0]


def _calls(
    db: DB,
    acting: Acting,
    *,
    side: str,
    dataset: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int]:
    ids = queries.agency_ids(db, [acting.agency_code])
    rows, total = sharelog.list_calls(
        db,
        owner_ids=ids if side != "consumer" else [],
        consumer_ids=ids if side != "owner" else [],
        dataset=dataset,
        outcome=outcome,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return queries.calls_json(db, rows), total


Side = Literal["owner", "consumer", "both"]


@router.get("/log", response_model=CallPage, responses=SIGNED_IN)
def sharing_log(
    db: DB,
    acting: AgencyCaller,
    side: Side = "both",
    dataset: Filter = None,
    outcome: Filter = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """Every call to the caller's data (owner) and by its systems (consumer), allowed or
    refused."""
    items, total = _calls(
        db,
        acting,
        side=side,
        dataset=dataset,
        outcome=outcome,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
    )
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get(
    "/log.csv",
    response_class=StreamingResponse,
    responses={**SIGNED_IN, 200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
def sharing_log_csv(
    db: DB,
    acting: AgencyCaller,
    side: Side = "both",
    dataset: Filter = None,
    outcome: Filter = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    items, _total = _calls(
        db,
        acting,
        side=side,
        dataset=dataset,
        outcome=outcome,
        since=since,
        until=until,
        page=1,
        page_size=100_000,
    )
    return csv_download(sharelog.csv_lines(items), "nhat-ky-chia-se.csv")


@me_router.get("/data-usage", response_model=UsagePage, responses=SIGNED_IN)
def my_data_usage(
    db: DB, principal: CurrentPrincipal, page: PageNo = 1, page_size: PageSize = 50
) -> dict[str, Any]:
    """Who used my data: every agency that received a record of my ID number (or my
    business's tax code), when, which items and why. Nobody else's."""
    if principal.user_id is None:
        raise Forbidden(
            "Chỉ người dân đăng nhập mới xem được.",
            "Only a signed-in person has data of their own.",
            code="person_required",
        )
    return queries.usage_json(db, user_id=principal.user_id, page=page, page_size=page_size)


PurposeHeader = Annotated[
    str | None,
    Header(
        alias="Lienthong-Purpose",
        max_length=300,
        pattern=PRINTABLE,
        description="Why: required for personal data (e.g. a dossier code)",
    ),
]
ClientHeader = Annotated[
    str | None,
    Header(
        alias="Lienthong-Client",
        max_length=80,
        pattern=PRINTABLE,
        description="The calling system; must be the credential's own",
    ),
]
RequestIdHeader = Annotated[
    str | None, Header(alias="Lienthong-Request-Id", max_length=64, pattern=PRINTABLE)
]


@router.get(
    "/{dataset}/{service}",
    response_model=GatewayAnswer,
    responses={**SIGNED_IN, **errors(400, 404, 502, 503, 504)},
)
def call_service(
    dataset: Code,
    service: Code,
    request: Request,
    db: DB,
    principal: CurrentPrincipal,
    runtime: NodeRuntime,
    lang: Lang,
    purpose: PurposeHeader = None,
    client: ClientHeader = None,
    request_id: RequestIdHeader = None,
    key: Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)] = None,
    fields: Annotated[str | None, Query(max_length=2000, pattern=PRINTABLE)] = None,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=gateway.MAX_LIMIT)] = 50,
) -> Response:
    """A consumer system's call, checked against its grant; only granted items come back.
    Every call, allowed or refused, is in the sharing log."""
    if principal.system_id is None:
        raise Forbidden(
            "Dịch vụ dữ liệu chỉ phục vụ hệ thống của cơ quan (thông tin xác thực hệ thống).",
            "Data services answer agency systems (system credentials) only.",
            code="system_required",
        )
    if client and client != principal.system_id:
        raise Forbidden(
            "Lienthong-Client khác với hệ thống đã xác thực.",
            "Lienthong-Client is not the authenticated system.",
            code="client_mismatch",
        )
    filters = {k: v[:200] for k, v in request.query_params.items() if k not in GATEWAY_PARAMS}
    outcome = gateway.call_logged(
        db,
        providers=runtime.datashare,
        limiter=runtime.limiter,
        events=runtime.events,
        call=gateway.Call(
            dataset=dataset,
            service=service,
            system=principal.system_id,
            agency_code=principal.grants[0].agency_code,
            purpose=purpose,
            request_id=request_id,
            key=key,
            filters=filters,
            fields=tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None,
            cursor=cursor,
            offset=offset,
            limit=limit,
            path=request.url.path,
            query=request.url.query,
            request_size=len(request.url.query),
            source_ip=client_address(request),
        ),
    )
    if isinstance(outcome, gateway.Refused):
        # Answered, not raised: raising would roll back the log row of the refusal.
        return JSONResponse(
            outcome.error.to_body(lang),
            status_code=outcome.error.status_code,
            headers=outcome.headers,
        )
    return JSONResponse(
        outcome.body,
        headers={
            "Lienthong-Request-Id": outcome.request_id,
            "Lienthong-Request-Hash": outcome.request_hash,
        },
    )
