"""Figures read from the roll-ups and the targets' own state, never from a scan of raw results:
up/down now and since when, availability per day and month against the provider's SLA target,
loss and latency percentiles per hour; per site, per area and for the whole network."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lienthong.config import Settings
from lienthong.kernel.clock import start_of_local_day
from lienthong.netmon import sites
from lienthong.netmon.models import (
    DOWN,
    UNKNOWN,
    UNREACHABLE,
    UP,
    NetAlert,
    NetLink,
    ProbeRollup,
    ProbeTarget,
    VideoEndpoint,
)
from lienthong.netmon.monitor import RTT_BUCKETS

STATUS_ORDER = {DOWN: 0, UNREACHABLE: 1, UNKNOWN: 2, UP: 3}
STATUS_LABELS = {
    UP: ("Hoạt động", "Up"),
    DOWN: ("Mất kết nối", "Down"),
    UNREACHABLE: ("Không tới được", "Unreachable"),
    UNKNOWN: ("Chưa rõ", "Unknown"),
}


def sla_targets(settings: Settings) -> dict[str, float]:
    """`VNPT=99.5,Viettel=99.7` → {"VNPT": 99.5, "Viettel": 99.7}."""
    out = {}
    for part in settings.netmon_sla_targets.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            continue
    return out


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """The upper bound of the RTT bucket holding the q-th quantile (the last bucket: its floor)."""
    total = sum(buckets)
    if not total:
        return None
    seen = 0
    for i, count in enumerate(buckets):
        seen += count
        if seen >= q * total:
            return float(RTT_BUCKETS[i] if i < len(RTT_BUCKETS) else RTT_BUCKETS[-1])
    return float(RTT_BUCKETS[-1])


def availability(
    session: Session, *, target_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """(up, probes) per target over the days starting in [start, end)."""
    rows = session.execute(
        select(ProbeRollup.target_id, func.sum(ProbeRollup.up), func.sum(ProbeRollup.probes))
        .where(
            ProbeRollup.period == "day",
            ProbeRollup.start >= start,
            ProbeRollup.start < end,
            ProbeRollup.target_id.in_(target_ids),
        )
        .group_by(ProbeRollup.target_id)
    ).all()
    return {int(t): (int(u or 0), int(p or 0)) for t, u, p in rows}


def pct(up: int, probes: int) -> float | None:
    return round(100.0 * up / probes, 3) if probes else None


def month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return start_of_local_day(first), start_of_local_day(following)


def sla_report(session: Session, *, settings: Settings, month: date) -> list[dict[str, Any]]:
    """Per link: availability over the month against its provider's target."""
    start, end = month_bounds(month)
    links = session.execute(
        select(NetLink, ProbeTarget.id)
        .join(ProbeTarget, ProbeTarget.link_id == NetLink.id)
        .order_by(NetLink.provider, NetLink.circuit_id)
    ).all()
    counts = availability(session, target_ids=[t for _, t in links], start=start, end=end)
    named = sites.sites(session, {link.site_id for link, _ in links})
    targets = sla_targets(settings)
    out = []
    for link, target_id in links:
        up, probes = counts.get(target_id, (0, 0))
        value = pct(up, probes)
        goal = targets.get(link.provider, settings.netmon_sla_default_pct)
        out.append(
            {
                "circuit_id": link.circuit_id,
                "provider": link.provider,
                "site_code": named[link.site_id].code,
                "site_name": named[link.site_id].name,
                "probes": probes,
                "availability_pct": value,
                "target_pct": goal,
                "met": None if value is None else value >= goal,
            }
        )
    return out


def hourly(
    session: Session, *, target_id: int, since: datetime, period: str = "hour"
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ProbeRollup)
        .where(
            ProbeRollup.target_id == target_id,
            ProbeRollup.period == period,
            ProbeRollup.start >= since,
        )
        .order_by(ProbeRollup.start)
    )
    return [
        {
            "start": r.start,
            "probes": r.probes,
            "availability_pct": pct(r.up, r.probes),
            "loss_pct": round(r.loss_sum / r.probes, 2) if r.probes else None,
            "rtt_avg_ms": round(r.rtt_sum / r.up, 3) if r.up else None,
            "rtt_max_ms": r.rtt_max if r.up else None,
            "rtt_p50_ms": percentile(r.rtt_buckets, 0.5),
            "rtt_p95_ms": percentile(r.rtt_buckets, 0.95),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class BoardFilter:
    area: str | None = None
    provider: str | None = None
    status: str | None = None
    kind: str = "link"  # link, endpoint


def board(
    session: Session, *, filters: BoardFilter, page: int = 1, page_size: int = 50
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """Targets, worst first (down, unreachable, unknown, up; then by loss and latency), with the
    count per status of everything the filter selects."""
    column = ProbeTarget.link_id if filters.kind == "link" else ProbeTarget.endpoint_id
    scope: list[ColumnElement[bool]] = [column.is_not(None)]
    if filters.provider:
        scope.append(ProbeTarget.provider == filters.provider)
    if filters.area is not None:
        # Areas are per site (a few hundred): the sites of the area, then the targets in SQL.
        site_ids = session.scalars(select(ProbeTarget.site_id).where(*scope).distinct()).all()
        named = sites.sites(session, site_ids)
        scope.append(
            ProbeTarget.site_id.in_([i for i, n in named.items() if n.area_code == filters.area])
        )
    counted = session.execute(
        select(ProbeTarget.status, func.count()).where(*scope).group_by(ProbeTarget.status)
    ).all()
    counts = {str(status): int(n) for status, n in counted}
    if filters.status:
        scope.append(ProbeTarget.status == filters.status)
    total = sum(n for status, n in counts.items() if not filters.status or status == filters.status)
    worst = case(
        *((ProbeTarget.status == status, rank) for status, rank in STATUS_ORDER.items()), else_=9
    )
    chosen = session.scalars(
        select(ProbeTarget)
        .where(*scope)
        .order_by(
            worst,
            func.coalesce(ProbeTarget.last_loss_pct, 0).desc(),
            func.coalesce(ProbeTarget.last_rtt_ms, 0).desc(),
            ProbeTarget.id,
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return rows(session, chosen), total, {s: counts.get(s, 0) for s in STATUS_ORDER}


def rows(
    session: Session, targets: Sequence[ProbeTarget], named: dict[int, sites.Site] | None = None
) -> list[dict[str, Any]]:
    """What a board shows of each target."""
    named = named or sites.sites(session, {t.site_id for t in targets})
    labels = _labels(session, targets)
    return [
        {
            "target_id": t.id,
            "kind": "link" if t.link_id else "endpoint",
            "label": labels.get(t.id, ""),
            "site_code": named[t.site_id].code,
            "site_name": named[t.site_id].name,
            "area_code": named[t.site_id].area_code,
            "area_name": named[t.site_id].area_name,
            "provider": t.provider,
            "module": t.module,
            "address": t.address,
            "status": t.status,
            "status_since": t.status_since,
            "last_probe_at": t.last_probe_at,
            "rtt_ms": t.last_rtt_ms,
            "loss_pct": t.last_loss_pct,
            "error": t.last_error,
        }
        for t in targets
    ]


def _labels(session: Session, targets: Sequence[ProbeTarget]) -> dict[int, str]:
    link_ids = {t.link_id: t.id for t in targets if t.link_id}
    endpoint_ids = {t.endpoint_id: t.id for t in targets if t.endpoint_id}
    out: dict[int, str] = {}
    if link_ids:
        for lid, circuit in session.execute(
            select(NetLink.id, NetLink.circuit_id).where(NetLink.id.in_(link_ids))
        ).all():
            out[link_ids[lid]] = circuit
    if endpoint_ids:
        for eid, room in session.execute(
            select(VideoEndpoint.id, VideoEndpoint.room).where(VideoEndpoint.id.in_(endpoint_ids))
        ).all():
            out[endpoint_ids[eid]] = room
    return out


def network_summary(session: Session) -> dict[str, Any]:
    """Counts for the whole network and per area, and alerts open."""
    kind = case((ProbeTarget.link_id.is_not(None), "link"), else_="endpoint")
    rows = session.execute(
        select(ProbeTarget.site_id, kind, ProbeTarget.status, func.count()).group_by(
            ProbeTarget.site_id, kind, ProbeTarget.status
        )
    ).all()
    named = sites.sites(session, {r[0] for r in rows})
    whole: dict[str, Counter[str]] = defaultdict(Counter)
    per_area: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for site_id, what, status, n in ((int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows):
        whole[what][status] += n
        site = named[site_id]
        per_area[(site.area_code, site.area_name)][status] += n
    open_alerts = session.scalar(select(func.count()).where(NetAlert.closed_at.is_(None))) or 0
    return {
        "links": {s: whole["link"].get(s, 0) for s in STATUS_ORDER},
        "endpoints": {s: whole["endpoint"].get(s, 0) for s in STATUS_ORDER},
        "areas": [
            {"area_code": code, "area_name": name, **{s: c.get(s, 0) for s in STATUS_ORDER}}
            for (code, name), c in sorted(per_area.items(), key=lambda kv: kv[0][1])
        ],
        "open_alerts": int(open_alerts),
    }
