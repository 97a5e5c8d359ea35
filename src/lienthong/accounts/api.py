"""Who am I: lets agency software check its credentials and people their roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from lienthong.accounts.deps import CurrentPrincipal
from lienthong.web.openapi import SIGNED_IN

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class GrantOut(BaseModel):
    agency_code: str
    agency_name: str
    role: str


class Me(BaseModel):
    kind: str  # user, system
    name: str
    system_id: str | None
    grants: list[GrantOut]


@router.get("/me", response_model=Me, responses=SIGNED_IN)
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "kind": principal.kind,
        "name": principal.name,
        "system_id": principal.system_id,
        "grants": [
            {"agency_code": g.agency_code, "agency_name": g.agency_name, "role": g.role}
            for g in principal.grants
        ],
    }
