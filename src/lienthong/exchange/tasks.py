"""Exchange jobs: deliver a document to a local inbox."""

from __future__ import annotations

from typing import Any

from lienthong.exchange import intake, service
from lienthong.kernel.jobs import Handler, JobContext
from lienthong.runtime import Runtime


def handlers(runtime: Runtime) -> dict[str, Handler]:
    def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
        service.deliver(ctx.session, runtime=runtime, delivery_id=int(payload["delivery_id"]))

    return {intake.DELIVER_JOB: deliver}
