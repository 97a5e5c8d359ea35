"""Registry jobs: merges and dissolutions decided ahead of their effective date."""

from __future__ import annotations

from datetime import date
from typing import Any

from lienthong.kernel.clock import local_today
from lienthong.kernel.jobs import Handler, JobContext
from lienthong.registry import service
from lienthong.registry.models import AgencyStatus


def apply_retirement(ctx: JobContext, payload: dict[str, Any]) -> None:
    service.apply_retirement(
        ctx.session,
        codes=payload["codes"],
        status=AgencyStatus(payload["status"]),
        actor=payload.get("actor", "worker"),
        effective_on=date.fromisoformat(payload["effective_on"])
        if "effective_on" in payload
        else local_today(),
    )


HANDLERS: dict[str, Handler] = {service.APPLY_RETIREMENT_JOB: apply_retirement}
