"""Per-target gauges for Prometheus, read from the targets' own state at scrape time."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.netmon import sites
from lienthong.netmon.models import UP, ProbeTarget

log = logging.getLogger("lienthong.netmon")
LABELS = ["target", "kind", "site", "module", "provider"]


class NetmonCollector(Collector):
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Any:
        up = GaugeMetricFamily(
            "lienthong_netmon_up", "Whether the target answers (1) or not (0)", labels=LABELS
        )
        rtt = GaugeMetricFamily(
            "lienthong_netmon_rtt_seconds", "Last round-trip time", labels=LABELS
        )
        loss = GaugeMetricFamily("lienthong_netmon_loss_ratio", "Last ICMP loss", labels=LABELS)
        try:
            with self.factory() as session:
                targets = list(
                    session.scalars(select(ProbeTarget).where(ProbeTarget.enabled.is_(True)))
                )
                codes = sites.codes(session, {t.site_id for t in targets})
            for t in targets:
                labels = [
                    str(t.id),
                    "link" if t.link_id else "endpoint",
                    codes.get(t.site_id, ""),
                    t.module,
                    t.provider,
                ]
                up.add_metric(labels, 1.0 if t.status == UP else 0.0)
                if t.last_rtt_ms is not None:
                    rtt.add_metric(labels, t.last_rtt_ms / 1000)
                if t.last_loss_pct is not None:
                    loss.add_metric(labels, t.last_loss_pct / 100)
        except Exception:  # a scrape must not fail because the database is away
            log.warning("netmon metrics unavailable", exc_info=True)
        yield from (up, rtt, loss)
