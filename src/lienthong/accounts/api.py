"""Who am I: lets agency software check its credentials and people their roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lienthong.accounts.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me")
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
