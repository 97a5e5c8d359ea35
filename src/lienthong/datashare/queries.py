"""Reads scoped to the caller, shaped for the API and the pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts.service import Principal
from lienthong.datashare import catalogue, sharelog
from lienthong.datashare.models import AccessGrant, AccessRequest, DataService, Dataset
from lienthong.registry.models import Agency


def agency_ids(session: Session, codes: Sequence[str]) -> list[int]:
    if not codes:
        return []
    return list(session.scalars(select(Agency.id).where(Agency.code.in_(list(codes)))))


def is_agency_reader(principal: Principal | None) -> bool:
    """Every agency browses the whole catalogue; the public sees the open items."""
    return principal is not None and bool(principal.grants)


def dataset_json(
    session: Session, dataset: Dataset, owner: Agency, *, agency_reader: bool
) -> dict[str, Any]:
    return {
        "code": dataset.code,
        "database": dataset.database,
        "owner_agency": owner.code,
        "owner_name": owner.name,
        "name_vi": dataset.name_vi,
        "name_en": dataset.name_en,
        "description": dataset.description,
        "field": dataset.field,
        "legal_basis": dataset.legal_basis,
        "update_frequency": dataset.update_frequency,
        "key_item": dataset.key_item,
        "personal_data": dataset.personal_data,
        "subject_item": dataset.subject_item,
        "illustrative": dataset.illustrative,
        "items": catalogue.visible_items(dataset, agency_reader=agency_reader),
        "services": [
            {
                "code": s.code,
                "kind": s.kind,
                "provider": s.provider,
                "openapi_url": f"/api/v1/data/datasets/{dataset.code}/services/{s.code}/openapi.json",
            }
            for s in catalogue.services_of(session, dataset)
        ],
    }


def _names(session: Session, service_ids: set[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(
        select(DataService.id, Dataset.code, DataService.code)
        .join(Dataset, Dataset.id == DataService.dataset_id)
        .where(DataService.id.in_(service_ids or {0}))
    ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def requests_json(session: Session, rows: Sequence[AccessRequest]) -> list[dict[str, Any]]:
    names = _names(session, {r.service_id for r in rows})
    codes = sharelog.agency_codes(
        session, {r.owner_agency_id for r in rows} | {r.consumer_agency_id for r in rows}
    )
    return [
        {
            "id": r.id,
            "dataset": names[r.service_id][0],
            "service": names[r.service_id][1],
            "owner_agency": codes.get(r.owner_agency_id, ""),
            "consumer_agency": codes.get(r.consumer_agency_id, ""),
            "consumer_system": r.consumer_system,
            "items": list(r.items),
            "purpose": r.purpose,
            "legal_basis": r.legal_basis,
            "frequency": r.frequency,
            "period_from": r.period_from,
            "period_to": r.period_to,
            "state": r.state,
            "created_at": r.created_at,
            "due_at": r.due_at,
            "decided_at": r.decided_at,
            "reason": r.reason,
        }
        for r in rows
    ]


def grants_json(session: Session, rows: Sequence[AccessGrant]) -> list[dict[str, Any]]:
    names = _names(session, {g.service_id for g in rows})
    codes = sharelog.agency_codes(
        session, {g.owner_agency_id for g in rows} | {g.consumer_agency_id for g in rows}
    )
    return [
        {
            "id": g.id,
            "request_id": g.request_id,
            "dataset": names[g.service_id][0],
            "service": names[g.service_id][1],
            "owner_agency": codes.get(g.owner_agency_id, ""),
            "consumer_agency": codes.get(g.consumer_agency_id, ""),
            "consumer_system": g.consumer_system,
            "items": list(g.items),
            "state": g.state,
            "valid_from": g.valid_from,
            "expires_at": g.expires_at,
            "rate_per_minute": g.rate_per_minute,
            "created_at": g.created_at,
            "reason": g.reason,
            "replaces_id": g.replaces_id,
            "current": g.current,
        }
        for g in rows
    ]


def calls_json(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    codes = sharelog.agency_codes(
        session, {c.owner_agency_id for c in rows} | {c.consumer_agency_id for c in rows}
    )
    return [sharelog.call_json(c, codes) for c in rows]


def usage_json(session: Session, *, user_id: int, page: int, page_size: int) -> dict[str, Any]:
    rows, total = sharelog.usage_of(session, user_id=user_id, page=page, page_size=page_size)
    datasets = {
        d.code: d
        for d in session.scalars(
            select(Dataset).where(Dataset.code.in_({c.dataset_code for c, _ in rows}))
        )
    }
    agencies = {
        a.id: a
        for a in session.scalars(
            select(Agency).where(Agency.id.in_({c.consumer_agency_id or 0 for c, _ in rows}))
        )
    }
    items = []
    for call, subject in rows:
        agency = agencies.get(call.consumer_agency_id or 0)
        dataset = datasets.get(call.dataset_code)
        items.append(
            {
                "at": call.at,
                "subject": subject,
                "agency": agency.code if agency else None,
                "agency_name": agency.name if agency else None,
                "dataset": call.dataset_code,
                "dataset_name": dataset.name_vi if dataset else call.dataset_code,
                "items": list(call.items),
                "purpose": call.purpose,
            }
        )
    return {
        "subjects": [s.subject for s in sharelog.subjects_of(session, user_id=user_id)],
        "items": items,
        "total": total,
        "page": page,
        "page_size": page_size,
    }
