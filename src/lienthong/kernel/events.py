"""The node's own security-relevant events (sign-ins, refusals, failed peer signatures …),
told to whoever listens, in Elastic Common Schema field names.

Lower layers only emit; the security domain, when it is wired in, supplies the sink that takes
them into its intake. Without it they go to the structured log, so nothing is lost and no
domain below imports the one above.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from lienthong.kernel.clock import utcnow

log = logging.getLogger("lienthong.events")


class EventSink(Protocol):
    def emit(self, event: Mapping[str, Any]) -> None:
        """Take one event; must never block or raise (a full buffer drops and counts)."""
        ...


class LogEventSink:
    """Writes each event as one structured log line under `lienthong.events`."""

    def emit(self, event: Mapping[str, Any]) -> None:
        log.info(str(event.get("event.action", "event")), extra={"ecs": dict(event)})


def node_event(
    *,
    action: str,
    category: str,
    outcome: str,
    reason: str | None = None,
    source_ip: str | None = None,
    user_name: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One event as flat ECS fields: `event.action` (e.g. `signin`), `event.category`
    (`authentication`, `web`, `network`, `configuration`), `event.outcome` (`success`,
    `failure`), `event.reason` (the stable error code), plus `fields`: any other ECS field by
    its dotted name (`url.path`, `http.response.status_code` …)."""
    event: dict[str, Any] = {
        "@timestamp": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event.kind": "event",
        "event.module": "lienthong",
        "event.dataset": "lienthong.node",
        "event.action": action,
        "event.category": category,
        "event.outcome": outcome,
    }
    if reason:
        event["event.reason"] = reason
    if source_ip:
        event["source.ip"] = source_ip
    if user_name:
        event["user.name"] = user_name
    event.update({k: v for k, v in (fields or {}).items() if v is not None})
    return event
