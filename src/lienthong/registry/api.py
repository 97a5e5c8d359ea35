"""JSON API of the registry: reads are public (it is the directory every system routes by);
changes need the node's administrators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from lienthong.accounts.deps import NodeAdmin
from lienthong.kernel.errors import Invalid, TooLarge
from lienthong.registry import service, transfer
from lienthong.registry.codes import PATTERN
from lienthong.registry.models import AgencyKind, AgencyStatus
from lienthong.registry.schemas import (
    AgencyCreate,
    AgencyOut,
    AgencyUpdate,
    DissolveRequest,
    EventOut,
    ImportResult,
    MergeRequest,
    Page,
    TreeNode,
)
from lienthong.web.deps import DB, PRINTABLE, AppSettings
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, binary, errors, raw_body
from lienthong.web.render import csv_download

router = APIRouter(prefix="/api/v1/organizations", tags=["registry"])

PageNo = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]
Code = Annotated[str, Path(pattern=PATTERN, description="QĐ 20/2020 code, e.g. 000.00.00.H49")]
ADMIN = {**SIGNED_IN, **WITH_BODY}


def _one(db: DB, code: str) -> dict[str, Any]:
    return service.describe(db, [service.get_agency(db, code=code)])[0]


@router.get("", response_model=Page[AgencyOut], responses=errors(404))
def list_organizations(
    db: DB,
    parent: Annotated[str | None, Query(pattern=PATTERN)] = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    status: AgencyStatus | None = None,
    kind: AgencyKind | None = None,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    items, total = service.list_agencies(
        db,
        parent_code=parent,
        level=level,
        status=status,
        kind=kind,
        q=q,
        page=page,
        page_size=page_size,
    )
    return {
        "items": service.describe(db, items),
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses=binary("text/csv", "Every agency, in the import's columns"),
)
def export_organizations(db: DB) -> Response:
    return csv_download(transfer.export_csv(db), "organizations.csv")


@router.post(
    "/import",
    response_model=ImportResult,
    responses=ADMIN,
    openapi_extra=raw_body("text/csv", "The registry's CSV columns; all rows or none"),
)
async def import_organizations(
    request: Request, db: DB, settings: AppSettings, admin: NodeAdmin
) -> ImportResult:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.max_import_bytes:
            raise TooLarge(
                f"Tệp vượt quá giới hạn {settings.max_import_bytes // (1024 * 1024)} MB.",
                f"The file is over the {settings.max_import_bytes // (1024 * 1024)} MB limit.",
                code="body_too_large",
            )
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "Tệp phải được mã hóa UTF-8.", "The file must be UTF-8 encoded.", code="import_invalid"
        ) from exc
    return transfer.import_csv(db, text=text, actor=admin.name, default_node=settings.node_code)


@router.post("", response_model=AgencyOut, status_code=201, responses={**ADMIN, **errors(404, 409)})
def create_organization(
    data: AgencyCreate, db: DB, settings: AppSettings, admin: NodeAdmin
) -> dict[str, Any]:
    agency = service.create_agency(db, data=data, actor=admin.name, default_node=settings.node_code)
    return service.describe(db, [agency])[0]


@router.post("/merge", response_model=AgencyOut, responses={**ADMIN, **errors(404, 409)})
def merge_organizations(data: MergeRequest, db: DB, admin: NodeAdmin) -> dict[str, Any]:
    successor = service.merge(
        db,
        source_codes=data.source_codes,
        successor_code=data.successor_code,
        effective_on=data.effective_on,
        actor=admin.name,
    )
    return service.describe(db, [successor])[0]


@router.get("/{code}", response_model=AgencyOut, responses=errors(404))
def get_organization(code: Code, db: DB) -> dict[str, Any]:
    return _one(db, code)


@router.patch("/{code}", response_model=AgencyOut, responses={**ADMIN, **errors(404, 409)})
def update_organization(code: Code, data: AgencyUpdate, db: DB, admin: NodeAdmin) -> dict[str, Any]:
    agency = service.update_agency(db, code=code, data=data, actor=admin.name)
    return service.describe(db, [agency])[0]


@router.post("/{code}/dissolve", response_model=AgencyOut, responses={**ADMIN, **errors(404, 409)})
def dissolve_organization(
    code: Code, data: DissolveRequest, db: DB, admin: NodeAdmin
) -> dict[str, Any]:
    agency = service.dissolve(
        db,
        code=code,
        successor_codes=data.successor_codes,
        effective_on=data.effective_on,
        actor=admin.name,
    )
    return service.describe(db, [agency])[0]


@router.get("/{code}/children", response_model=Page[AgencyOut], responses=errors(404))
def list_children(
    code: Code,
    db: DB,
    status: AgencyStatus | None = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    items, total = service.list_agencies(
        db, parent_code=code, status=status, page=page, page_size=page_size
    )
    return {
        "items": service.describe(db, items),
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/{code}/tree", response_model=TreeNode, responses=errors(404))
def organization_tree(
    code: Code,
    db: DB,
    depth: Annotated[int, Query(ge=0, le=4)] = 2,
    include_inactive: bool = False,
) -> dict[str, Any]:
    return service.tree(db, root_code=code, depth=depth, include_inactive=include_inactive)


@router.get("/{code}/history", response_model=Page[EventOut], responses=errors(404))
def organization_history(
    code: Code, db: DB, page: PageNo = 1, page_size: PageSize = 50
) -> dict[str, Any]:
    events, total = service.history(db, code=code, page=page, page_size=page_size)
    return {
        "items": [
            {"at": e.at, "actor": e.actor, "action": e.action, "changes": e.changes} for e in events
        ],
        "total": total,
        "page": page,
        "page_size": page_size,
    }
