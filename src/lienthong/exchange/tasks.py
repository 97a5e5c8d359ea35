"""Exchange jobs: deliver a document to a local inbox; sign the message log's head now and then."""

from __future__ import annotations

from typing import Any

from lienthong.exchange import intake, log, statuses
from lienthong.kernel.jobs import Handler, JobContext
from lienthong.runtime import Runtime

CHECKPOINT_JOB = "exchange.log_checkpoint"  # periodic: see app.periodic_jobs


def handlers(runtime: Runtime) -> dict[str, Handler]:
    def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        statuses.deliver(ctx.session, runtime=runtime, delivery_id=int(payload["delivery_id"]))

    def checkpoint(ctx: JobContext, payload: dict[str, Any]) -> None:
        log.checkpoint(ctx.session, keys=runtime.keys)

    return {intake.DELIVER_JOB: deliver, CHECKPOINT_JOB: checkpoint}
