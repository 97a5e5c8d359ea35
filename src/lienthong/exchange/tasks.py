"""Exchange jobs: the 01 of deliveries placed in inboxes; the message log's head signed now and
then (periodic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lienthong.exchange import arrivals, deliveries, log, tsa
from lienthong.kernel.jobs import Handler, JobContext

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

CHECKPOINT_JOB = "exchange.log_checkpoint"  # periodic: see app.periodic_jobs
# Deliveries of an older version of the node, each its own job: their 01 like any other.
LEGACY_DELIVER_JOB = "exchange.deliver"


def handlers(runtime: Runtime) -> dict[str, Handler]:
    def write_arrivals(ctx: JobContext, payload: dict[str, Any]) -> None:
        ids = [int(i) for i in payload.get("delivery_ids", [])]
        arrivals.write_arrivals(ctx.session, runtime=runtime, delivery_ids=ids)

    def legacy_deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        arrivals.place_pending(
            ctx.session, runtime=runtime, delivery_id=int(payload["delivery_id"])
        )

    def checkpoint(ctx: JobContext, payload: dict[str, Any]) -> None:
        mark = log.checkpoint(ctx.session, keys=runtime.keys)
        if mark is not None:
            tsa.stamp_checkpoint(ctx.session, runtime, mark)  # RFC 3161 over the signed head

    return {
        deliveries.ARRIVALS_JOB: write_arrivals,
        LEGACY_DELIVER_JOB: legacy_deliver,
        CHECKPOINT_JOB: checkpoint,
    }
