"""Exchange jobs: deliver a document to a local inbox; sign the message log's head now and then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lienthong.exchange import intake, log, statuses
from lienthong.kernel import jobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.jobs import Handler, JobContext
from lienthong.runtime import Runtime

CHECKPOINT_JOB = "exchange.log_checkpoint"


def schedule_checkpoint(ctx_session: Any, *, minutes: int) -> None:
    """One pending checkpoint job at a time; each run schedules the next."""
    pending = ctx_session.scalars(
        select(jobs.Job).where(jobs.Job.kind == CHECKPOINT_JOB, jobs.Job.status == jobs.PENDING)
    ).first()
    if pending is None:
        jobs.enqueue(
            ctx_session,
            kind=CHECKPOINT_JOB,
            payload={},
            run_after=utcnow() + timedelta(minutes=minutes),
        )


def handlers(runtime: Runtime) -> dict[str, Handler]:
    def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        statuses.deliver(ctx.session, runtime=runtime, delivery_id=int(payload["delivery_id"]))

    def checkpoint(ctx: JobContext, payload: dict[str, Any]) -> None:
        log.checkpoint(ctx.session, keys=runtime.keys)
        ctx.session.flush()
        minutes = runtime.settings.log_checkpoint_minutes
        jobs.enqueue(
            ctx.session,
            kind=CHECKPOINT_JOB,
            payload={},
            run_after=utcnow() + timedelta(minutes=minutes),
        )

    return {intake.DELIVER_JOB: deliver, CHECKPOINT_JOB: checkpoint}
