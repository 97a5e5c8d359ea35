"""Open data without sign-in: the open items of datasets that have any, read through a
CKAN-compatible action API (package_list, package_search, package_show, datastore_search)
so that CKAN clients and harvesters read them, CSV and GeoJSON downloads, and a DCAT-AP
catalogue in JSON-LD. A dataset is a package; its hosted records are one datastore resource
whose id is the dataset's code."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.datashare import catalogue, hosted
from lienthong.datashare.models import Dataset, HostedRecord
from lienthong.datashare.providers import HostedProvider
from lienthong.kernel.errors import Invalid, NotFound
from lienthong.registry.models import Agency
from lienthong.web.deps import DB
from lienthong.web.openapi import errors
from lienthong.web.render import csv_download

router = APIRouter(tags=["open data (CKAN-compatible)"])
ACTION = "/api/3/action"
MAX_ROWS = 1000  # CKAN's default rows_max
F = TypeVar("F", bound=Callable[..., Any])
HELP = "lienthong open data: CKAN action API subset (read only)"


def action(name: str, **kwargs: Any) -> Callable[[F], F]:
    """Both paths CKAN answers on: `/api/3/action/…` and the unversioned `/api/action/…`
    that ckanapi calls."""

    def register(func: F) -> F:
        router.api_route(f"{ACTION}/{name}", methods=["GET", "POST"], **kwargs)(func)
        router.api_route(
            f"/api/action/{name}", methods=["GET", "POST"], include_in_schema=False, **kwargs
        )(func)
        return func

    return register


def _ok(result: Any) -> dict[str, Any]:
    return {"help": HELP, "success": True, "result": result}


def _open_dataset(session: Session, name: str) -> tuple[Dataset, Agency]:
    found = session.execute(
        select(Dataset, Agency)
        .join(Agency, Agency.id == Dataset.owner_agency_id)
        .where(Dataset.code == name, Dataset.has_open_items.is_(True))
    ).first()
    if found is None:
        raise NotFound(
            f"Không có bộ dữ liệu mở {name!r}.",
            f"No open dataset {name!r}.",
            code="unknown_dataset",
        )
    return found[0], found[1]


def package(session: Session, dataset: Dataset, owner: Agency, base: str) -> dict[str, Any]:
    modified = session.scalar(
        select(func.max(HostedRecord.updated_at)).where(HostedRecord.dataset_id == dataset.id)
    )
    resources = [
        {
            "id": dataset.code,
            "package_id": dataset.code,
            "name": f"{dataset.name_vi} (CSV)",
            "format": "CSV",
            "url": f"{base}/du-lieu-mo/{dataset.code}.csv",
            "datastore_active": True,
        }
    ]
    if dataset.geometry:
        resources.append(
            {
                "id": f"{dataset.code}-geojson",
                "package_id": dataset.code,
                "name": f"{dataset.name_vi} (GeoJSON)",
                "format": "GeoJSON",
                "url": f"{base}/du-lieu-mo/{dataset.code}.geojson",
                "datastore_active": False,
            }
        )
    return {
        "id": dataset.code,
        "name": dataset.code,
        "title": dataset.name_vi,
        "notes": dataset.description,
        "state": "active",
        "private": False,
        "type": "dataset",
        "license_id": "other-open",
        "metadata_created": dataset.created_at.isoformat(),
        "metadata_modified": (modified or dataset.created_at).isoformat(),
        "organization": {"name": owner.code, "title": owner.name},
        "groups": [{"name": dataset.database}],
        "tags": [{"name": dataset.field}],
        "extras": [
            {"key": "legal_basis", "value": dataset.legal_basis},
            {"key": "update_frequency", "value": dataset.update_frequency},
            {"key": "illustrative", "value": str(dataset.illustrative).lower()},
        ],
        "num_resources": len(resources),
        "resources": resources,
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@action("package_list", response_model=dict[str, Any])
def package_list(db: DB) -> dict[str, Any]:
    names = db.scalars(
        select(Dataset.code).where(Dataset.has_open_items.is_(True)).order_by(Dataset.code)
    ).all()
    return _ok(list(names))


JsonBody = Annotated[dict[str, Any] | None, Body()]


def _params(request: Request, body: dict[str, Any] | None) -> dict[str, Any]:
    """CKAN clients send parameters in the query (GET) or as a JSON body (POST)."""
    return {**dict(request.query_params), **(body or {})}


def _int(params: dict[str, Any], name: str, default: int, high: int) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        raise Invalid(
            f"{name} phải là số.", f"{name} must be an integer.", code="invalid_request"
        ) from None
    if value < 0:
        raise Invalid(
            f"{name} không được âm.", f"{name} must not be negative.", code="invalid_request"
        )
    return min(value, high)


@action(
    "package_search",
    response_model=dict[str, Any],
    responses=errors(400),
)
def package_search(request: Request, db: DB, body: JsonBody = None) -> dict[str, Any]:
    params = _params(request, body)
    rows = _int(params, "rows", 10, MAX_ROWS)
    start = _int(params, "start", 0, 1_000_000)
    q = str(params.get("q") or "").strip()
    if q in ("*:*", "*"):
        q = ""
    page_rows, total = catalogue.list_datasets(
        db, q=q[:200] or None, open_only=True, page=1, page_size=1_000_000
    )
    results = [package(db, d, a, _base(request)) for d, a in page_rows[start : start + rows]]
    return _ok(
        {
            "count": total,
            "results": results,
            "facets": {},
            "search_facets": {},
            "sort": "score desc, metadata_modified desc",
        }
    )


@action(
    "package_show",
    response_model=dict[str, Any],
    responses=errors(400, 404),
)
def package_show(request: Request, db: DB, body: JsonBody = None) -> dict[str, Any]:
    params = _params(request, body)
    name = str(params.get("id") or params.get("name_or_id") or "")[:64]
    dataset, owner = _open_dataset(db, name)
    return _ok(package(db, dataset, owner, _base(request)))


@action(
    "datastore_search",
    response_model=dict[str, Any],
    responses=errors(400, 404),
)
def datastore_search(request: Request, db: DB, body: JsonBody = None) -> dict[str, Any]:
    params = _params(request, body)
    name = str(params.get("resource_id") or "")[:64]
    limit = _int(params, "limit", 100, 32_000)
    offset = _int(params, "offset", 0, 10_000_000)
    filters = params.get("filters") or {}
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError:
            filters = None
    if not isinstance(filters, dict):
        raise Invalid(
            "filters phải là một đối tượng JSON.",
            "filters must be a JSON object.",
            code="invalid_request",
        )
    dataset, _owner = _open_dataset(db, name)
    items = catalogue.open_items(dataset)
    # Filters only on open items: a filter on another would reveal what it holds.
    hidden = [k for k in filters if k not in items]
    if hidden:
        raise Invalid(
            f"Không lọc được theo {', '.join(map(str, hidden))}.",
            f"Cannot filter on {', '.join(map(str, hidden))}.",
            code="unknown_item",
        )
    page = HostedProvider().records(
        db,
        dataset=dataset,
        filters={str(k): str(v) for k, v in filters.items()},
        offset=offset,
        limit=limit,
    )
    return _ok(
        {
            "resource_id": dataset.code,
            "fields": [{"id": n, "type": "text"} for n in items],
            "records": [{k: r.get(k) for k in items} for r in page.records],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


def _all_open_records(session: Session, dataset: Dataset) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        rows = session.scalars(
            select(HostedRecord)
            .where(HostedRecord.dataset_id == dataset.id, HostedRecord.seq > last)
            .order_by(HostedRecord.seq)
            .limit(2000)
        ).all()
        if not rows:
            return
        for row in rows:
            last = row.seq
            yield dict(row.data)


# Downloads are files, not API operations: kept out of the OpenAPI description like pages.
@router.get(
    "/du-lieu-mo/{code}.csv",
    include_in_schema=False,
    response_class=Response,
    responses={**errors(404), 200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
def open_csv(code: Annotated[str, Path(max_length=64)], db: DB) -> Response:
    dataset, _owner = _open_dataset(db, code)
    items = catalogue.open_items(dataset)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(items)
    for r in _all_open_records(db, dataset):
        writer.writerow([r.get(k, "") for k in items])
    return csv_download("\ufeff" + buffer.getvalue(), f"{dataset.code}.csv")


@router.get(
    "/du-lieu-mo/{code}.geojson",
    include_in_schema=False,
    response_model=dict[str, Any],
    responses=errors(404),
)
def open_geojson(code: Annotated[str, Path(max_length=64)], db: DB) -> JSONResponse:
    dataset, _owner = _open_dataset(db, code)
    if not dataset.geometry:
        raise NotFound(
            "Bộ dữ liệu không có tọa độ.", "The dataset has no coordinates.", code="no_geometry"
        )
    items = catalogue.open_items(dataset)
    fc = hosted.feature_collection(dataset, _all_open_records(db, dataset), items)
    return JSONResponse(fc, media_type="application/geo+json")


@router.get("/du-lieu-mo/dcat.jsonld", include_in_schema=False)
def dcat(request: Request, db: DB) -> JSONResponse:
    """DCAT-AP catalogue of the open datasets (JSON-LD)."""
    base = _base(request)
    rows, _total = catalogue.list_datasets(db, open_only=True, page=1, page_size=10_000)
    datasets = []
    for d, owner in rows:
        dists = [
            {
                "@type": "dcat:Distribution",
                "dcat:accessURL": {"@id": f"{base}{ACTION}/datastore_search?resource_id={d.code}"},
                "dcat:downloadURL": {"@id": f"{base}/du-lieu-mo/{d.code}.csv"},
                "dcat:mediaType": "text/csv",
                "dct:license": {
                    "@id": "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"
                },
            }
        ]
        datasets.append(
            {
                "@id": f"{base}/du-lieu/{d.code}",
                "@type": "dcat:Dataset",
                "dct:identifier": d.code,
                "dct:title": [
                    {"@value": d.name_vi, "@language": "vi"},
                    {"@value": d.name_en, "@language": "en"},
                ],
                "dct:description": d.description,
                "dct:publisher": {
                    "@type": "foaf:Organization",
                    "foaf:name": owner.name,
                    "dct:identifier": owner.code,
                },
                "dcat:theme": d.field,
                "dcat:keyword": [d.database, d.field],
                "dct:accrualPeriodicity": d.update_frequency,
                "dcatap:applicableLegislation": d.legal_basis,
                "dct:spatial": "Quảng Ninh, Việt Nam",
                "dcat:distribution": dists,
            }
        )
    doc = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "dcatap": "http://data.europa.eu/r5r/",
        },
        "@id": f"{base}/du-lieu-mo/dcat.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": "Dữ liệu mở tỉnh Quảng Ninh",
        "dct:description": "Các trường dữ liệu mở của cơ sở dữ liệu chuyên ngành",
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": "UBND tỉnh Quảng Ninh"},
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": "Trung tâm điều hành"},
        "dcat:dataset": datasets,
    }
    return JSONResponse(doc, media_type="application/ld+json")
