"""Periodic jobs of the network monitor (`app.periodic_jobs`): raw results past their days
deleted (the roll-ups stay), and meetings' readiness checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel import jobs
from lienthong.kernel.clock import utcnow
from lienthong.netmon import meetings
from lienthong.netmon.models import ProbeResult

PRUNE_JOB = "netmon.prune"
READINESS_JOB = "netmon.readiness"


def prune(session: Session, *, settings: Settings) -> int:
    cutoff = utcnow() - timedelta(days=settings.netmon_raw_days)
    result = session.execute(delete(ProbeResult).where(ProbeResult.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def handlers(settings: Settings) -> dict[str, jobs.Handler]:
    def run_prune(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        prune(ctx.session, settings=settings)

    def run_readiness(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        meetings.check_readiness(ctx.session, settings=settings)

    return {PRUNE_JOB: run_prune, READINESS_JOB: run_readiness}
