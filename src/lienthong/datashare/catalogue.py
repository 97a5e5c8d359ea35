"""The catalogue of datasets (Art 11) and their services (Art 24-26): search, describe, publish
each service's OpenAPI description with only the items the reader may see."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.datashare.models import DataService, Dataset, ItemClass
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from lienthong.kernel.text import fold
from lienthong.registry import service as registry
from lienthong.registry.models import Agency

CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Words of the API's own paths: a dataset may not be called so (/api/v1/data/datasets …).
RESERVED = frozenset({"datasets", "requests", "grants", "log", "calls", "me"})
SERVICE_KINDS = ("get", "search", "changes")
FREQUENCIES = ("realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "on_change")


@dataclass(frozen=True)
class Item:
    name: str
    label_vi: str
    label_en: str
    cls: str

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "label_vi": self.label_vi,
            "label_en": self.label_en,
            "class": self.cls,
        }


def unknown_dataset(code: str) -> NotFound:
    return NotFound(
        f"Không có bộ dữ liệu {code!r}.", f"No dataset {code!r}.", code="unknown_dataset"
    )


def create_dataset(
    session: Session,
    *,
    code: str,
    database: str,
    owner_code: str,
    name_vi: str,
    name_en: str,
    field: str,
    items: Sequence[Item],
    key_item: str,
    update_frequency: str = "daily",
    description: str = "",
    legal_basis: str = "",
    subject_item: str | None = None,
    subject_kind: str | None = None,
    geometry: bool = False,
    illustrative: bool = False,
) -> Dataset:
    if not CODE.match(code) or code in RESERVED:
        raise Invalid(
            f"Mã bộ dữ liệu {code!r} không hợp lệ.",
            f"Dataset code {code!r} is not valid (lower case, digits, '-').",
            code="invalid_dataset_code",
        )
    names = [i.name for i in items]
    bad = [i.cls for i in items if i.cls not in set(ItemClass)]
    if bad or key_item not in names or (subject_item and subject_item not in names):
        raise Invalid(
            "Danh sách trường dữ liệu không hợp lệ.",
            "The items are not valid: each needs a class, and the key must be one of them.",
            code="invalid_items",
        )
    owner = registry.get_agency(session, code=owner_code)
    dataset = Dataset(
        code=code,
        database=database,
        owner_agency_id=owner.id,
        name_vi=name_vi,
        name_en=name_en,
        description=description,
        field=field,
        legal_basis=legal_basis,
        update_frequency=update_frequency,
        items=[i.as_json() for i in items],
        key_item=key_item,
        personal_data=subject_item is not None,
        has_open_items=any(i.cls == ItemClass.OPEN for i in items),
        subject_item=subject_item,
        subject_kind=subject_kind,
        geometry=geometry,
        illustrative=illustrative,
        search_text=fold(f"{code} {name_vi} {name_en} {description} {owner.name}")[:2000],
        created_at=utcnow(),
    )
    session.add(dataset)
    session.flush()
    return dataset


def add_service(
    session: Session,
    *,
    dataset: Dataset,
    code: str,
    kind: str,
    provider: str = "hosted",
    upstream_url: str | None = None,
    upstream_openapi: dict[str, Any] | None = None,
    timeout_ms: int = 5000,
    max_response_bytes: int = 1_000_000,
) -> DataService:
    if kind not in SERVICE_KINDS or provider not in ("hosted", "upstream"):
        raise Invalid(
            "Loại dịch vụ không hợp lệ.",
            "Unknown service kind or provider.",
            code="invalid_service",
        )
    if provider == "upstream" and not (upstream_url or "").startswith(("http://", "https://")):
        raise Invalid(
            "Cần địa chỉ dịch vụ của cơ quan chủ quản.",
            "An upstream service needs the owner's http(s) address.",
            code="invalid_service",
        )
    service = DataService(
        dataset_id=dataset.id,
        code=code,
        kind=kind,
        provider=provider,
        upstream_url=upstream_url,
        upstream_openapi=upstream_openapi,
        timeout_ms=timeout_ms,
        max_response_bytes=max_response_bytes,
    )
    session.add(service)
    session.flush()
    return service


# The path each kind of upstream service must describe (UpstreamProvider's convention).
UPSTREAM_PATHS = {"get": "/records/{", "search": "/records", "changes": "/changes"}


def check_openapi(kind: str, document: Any) -> None:
    """The owner's OpenAPI 3 description must be one and must describe the path this kind of
    service calls."""
    paths = document.get("paths") if isinstance(document, dict) else None
    version = str(document.get("openapi", "")) if isinstance(document, dict) else ""
    wanted = UPSTREAM_PATHS.get(kind, "")
    found = isinstance(paths, dict) and any(
        str(p) == wanted or (wanted.endswith("{") and str(p).startswith(wanted)) for p in paths
    )
    if not version.startswith("3.") or not found:
        raise Invalid(
            f"Tài liệu OpenAPI phải là phiên bản 3 và mô tả đường dẫn {wanted}….",
            f"The OpenAPI document must be version 3 and describe the path {wanted}….",
            code="invalid_openapi",
            details={"openapi": version or None, "path": wanted},
        )


def register_service(
    session: Session,
    *,
    dataset: Dataset,
    acting_code: str,
    code: str,
    kind: str,
    provider: str,
    upstream_url: str | None,
    upstream_openapi: dict[str, Any] | None,
    timeout_ms: int,
    max_response_bytes: int,
) -> DataService:
    """The owner publishes a service of its dataset (Art 24-26); an upstream one with the
    OpenAPI description of its own system."""
    owner = session.get(Agency, dataset.owner_agency_id)
    if owner is None or owner.code != acting_code:
        raise Forbidden(
            "Chỉ quản trị của cơ quan chủ quản dữ liệu được quyết định.",
            "Only an administrator of the data's owner agency may decide this.",
            code="not_data_owner",
            details={"owner": owner.code if owner else None},
        )
    if provider == "upstream":
        check_openapi(kind, upstream_openapi)
    taken = session.scalars(
        select(DataService).where(DataService.dataset_id == dataset.id, DataService.code == code)
    ).first()
    if taken is not None:
        raise Conflict(
            f"Bộ dữ liệu đã có dịch vụ {code}.",
            f"The dataset already has a service {code}.",
            code="duplicate_service",
        )
    return add_service(
        session,
        dataset=dataset,
        code=code,
        kind=kind,
        provider=provider,
        upstream_url=upstream_url,
        upstream_openapi=upstream_openapi,
        timeout_ms=timeout_ms,
        max_response_bytes=max_response_bytes,
    )


def list_datasets(
    session: Session,
    *,
    q: str | None = None,
    database: str | None = None,
    owner: str | None = None,
    field: str | None = None,
    open_only: bool = False,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[tuple[Dataset, Agency]], int]:
    query = select(Dataset, Agency).join(Agency, Agency.id == Dataset.owner_agency_id)
    if q:
        words = fold(q).split()
        query = query.where(*[Dataset.search_text.contains(w) for w in words])
    if database:
        query = query.where(Dataset.database == database)
    if owner:
        query = query.where(Agency.code == owner.strip().upper())
    if field:
        query = query.where(Dataset.field == field)
    if open_only:
        query = query.where(Dataset.has_open_items.is_(True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Dataset.database, Dataset.code)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return [(d, a) for d, a in rows], total


def get_dataset(session: Session, *, code: str) -> Dataset:
    dataset = session.scalars(select(Dataset).where(Dataset.code == code)).first()
    if dataset is None:
        raise unknown_dataset(code)
    return dataset


def services_of(session: Session, dataset: Dataset) -> list[DataService]:
    return list(
        session.scalars(
            select(DataService).where(DataService.dataset_id == dataset.id).order_by(DataService.id)
        )
    )


def get_service(session: Session, *, dataset: Dataset, code: str) -> DataService:
    service = session.scalars(
        select(DataService).where(DataService.dataset_id == dataset.id, DataService.code == code)
    ).first()
    if service is None or not service.active:
        raise NotFound(
            f"Bộ dữ liệu {dataset.code} không có dịch vụ {code!r}.",
            f"Dataset {dataset.code} has no service {code!r}.",
            code="unknown_service",
        )
    return service


def item_names(dataset: Dataset, *, open_only: bool = False) -> list[str]:
    return [i["name"] for i in dataset.items if not open_only or i["class"] == ItemClass.OPEN]


def open_items(dataset: Dataset) -> list[str]:
    return item_names(dataset, open_only=True)


def visible_items(dataset: Dataset, *, agency_reader: bool) -> list[dict[str, Any]]:
    """The catalogue is public for open items and browsable by every agency for the rest."""
    return [i for i in dataset.items if agency_reader or i["class"] == ItemClass.OPEN]


def openapi_for(dataset: Dataset, service: DataService, items: Sequence[str]) -> dict[str, Any]:
    """The service's OpenAPI 3 description, its record schema limited to `items`."""
    labels = {i["name"]: i for i in dataset.items}
    record = {
        "type": "object",
        "properties": {
            n: {
                "type": "string",
                "description": labels[n]["label_vi"],
                "x-class": labels[n]["class"],
            }
            for n in items
            if n in labels
        },
    }
    base = f"/api/v1/data/{dataset.code}/{service.code}"
    params: list[dict[str, Any]] = [
        {
            "name": "Lienthong-Client",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The calling system (defaults to the credential's)",
        },
        {
            "name": "Lienthong-Purpose",
            "in": "header",
            "required": dataset.personal_data,
            "schema": {"type": "string"},
            "description": "Why: e.g. a dossier code",
        },
        {
            "name": "Lienthong-Request-Id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {
            "name": "fields",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Items wanted, comma-separated (default: all granted)",
        },
    ]
    if service.kind == "get":
        params.append(
            {
                "name": "key",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": labels[dataset.key_item]["label_vi"],
            }
        )
    elif service.kind == "search":
        params += [
            {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in items
            if n in labels
        ]
        params += [
            {"name": "offset", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
        ]
    else:
        params += [
            {"name": "cursor", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
        ]
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{dataset.name_vi} — {service.code}", "version": "1"},
        "paths": {
            base: {
                "get": {
                    "operationId": f"{dataset.code}-{service.code}",
                    "parameters": params,
                    "responses": {
                        "200": {
                            "description": "Records",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "records": {"type": "array", "items": record},
                                            "total": {"type": "integer"},
                                            "next_cursor": {"type": "integer"},
                                        },
                                    }
                                }
                            },
                        },
                        "403": {
                            "description": "Outside the grant (no_grant, grant_expired, item_not_granted, grant_suspended)"
                        },
                    },
                }
            }
        },
    }
