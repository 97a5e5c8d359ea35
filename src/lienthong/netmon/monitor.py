"""What a probe result changes: the raw row, the hourly and daily roll-ups (same transaction),
the target's status with Zabbix-shaped rules, and the alerts.

Rules: unavailable after `netmon_down_after` consecutive failures (HIGH); average loss over the
last `netmon_window_probes` above `netmon_loss_warn_pct` and below 100 (WARNING, HIGH at twice);
average RTT over the window above `netmon_latency_warn_ms` (WARNING, HIGH at twice). A target
behind a down link (a link whose upstream site's link is down, an endpoint at a site whose link
is down) is `unreachable`: no alert of its own. A target changing status `netmon_flap_changes`
times within `netmon_flap_minutes` is flapping: one alert, its up/down alerts held back.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.clock import LOCAL_ZONE
from lienthong.netmon import alerts
from lienthong.netmon.models import (
    DOWN,
    UNREACHABLE,
    UP,
    NetLink,
    ProbeResult,
    ProbeRollup,
    ProbeTarget,
)
from lienthong.netmon.probes import ProbeOutcome

# Upper bounds (ms) of the RTT buckets kept per hour and day; the last catches the rest.
RTT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 1000, 2000, 5000)
FAILING = (DOWN, UNREACHABLE)


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_start(at: datetime) -> datetime:
    """The start of the Vietnam day holding `at`, in UTC: an SLA day is a local day."""
    local = at.astimezone(LOCAL_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(at.tzinfo)


def _roll(
    session: Session, target_id: int, period: str, start: datetime, outcome: ProbeOutcome
) -> None:
    row = session.get(ProbeRollup, (target_id, period, start))
    if row is None:
        row = ProbeRollup(
            target_id=target_id,
            period=period,
            start=start,
            probes=0,
            up=0,
            rtt_sum=0.0,
            rtt_max=0.0,
            loss_sum=0.0,
            rtt_buckets=[0] * (len(RTT_BUCKETS) + 1),
        )
        session.add(row)
    row.probes += 1
    row.loss_sum += (
        outcome.loss_pct if outcome.loss_pct is not None else (0.0 if outcome.success else 100.0)
    )
    if outcome.success:
        row.up += 1
        rtt = outcome.rtt_ms or 0.0
        row.rtt_sum += rtt
        row.rtt_max = max(row.rtt_max, rtt)
        buckets = list(row.rtt_buckets)  # a new list, so the JSON column is written
        buckets[bisect.bisect_left(RTT_BUCKETS, rtt)] += 1
        row.rtt_buckets = buckets


def record(
    session: Session,
    *,
    settings: Settings,
    target: ProbeTarget,
    outcome: ProbeOutcome,
    at: datetime,
) -> None:
    """Store one result and apply what follows from it."""
    session.add(
        ProbeResult(
            target_id=target.id,
            at=at,
            success=outcome.success,
            rtt_ms=outcome.rtt_ms,
            loss_pct=outcome.loss_pct,
            detail=outcome.detail[:300] or None,
        )
    )
    _roll(session, target.id, "hour", hour_start(at), outcome)
    _roll(session, target.id, "day", day_start(at), outcome)
    target.last_probe_at = at
    target.last_rtt_ms = outcome.rtt_ms
    target.last_loss_pct = outcome.loss_pct
    target.last_error = None if outcome.success else (outcome.detail[:500] or "failed")
    if outcome.success:
        target.consecutive_up += 1
        target.consecutive_down = 0
        if target.status != UP:
            _change(session, settings, target, UP, at)
    else:
        target.consecutive_down += 1
        target.consecutive_up = 0
        if target.consecutive_down >= settings.netmon_down_after and target.status not in FAILING:
            _change(
                session,
                settings,
                target,
                UNREACHABLE if _behind_failure(session, target) else DOWN,
                at,
            )
    session.flush()
    _window_rules(session, settings, target, at)


def _change(
    session: Session, settings: Settings, target: ProbeTarget, status: str, at: datetime
) -> None:
    was = target.status
    target.status = status
    target.status_since = at
    if was in (UP, *FAILING):  # from unknown (first probe) is no change of state
        window_start = at - timedelta(minutes=settings.netmon_flap_minutes)
        changes = [c for c in target.changes if datetime.fromisoformat(c) >= window_start]
        target.changes = [*changes, at.isoformat()][-settings.netmon_flap_changes * 2 :]
    flapping = len(target.changes) >= settings.netmon_flap_changes
    if flapping:
        alerts.raise_alert(
            session,
            settings=settings,
            target=target,
            rule="flapping",
            severity=alerts.WARNING,
            detail=f"{len(target.changes)} changes in {settings.netmon_flap_minutes} min",
            at=at,
        )
    if status == UP:
        alerts.clear(session, target_id=target.id, rule="unavailable", at=at)
        if not flapping:
            alerts.clear(session, target_id=target.id, rule="flapping", at=at)
        return
    if status == DOWN and not flapping:
        alerts.raise_alert(
            session,
            settings=settings,
            target=target,
            rule="unavailable",
            severity=alerts.HIGH,
            detail=f"{target.consecutive_down} probes failed: {target.last_error}",
            at=at,
        )
    _mark_behind(session, target, at)


def _upstream_links(session: Session, target: ProbeTarget) -> list[ProbeTarget]:
    """The link targets this target depends on: the upstream site's links for a link, its own
    site's links for an endpoint."""
    if target.endpoint_id is not None:
        site_id: int | None = target.site_id
    else:
        site_id = session.scalar(
            select(NetLink.upstream_site_id).where(NetLink.id == target.link_id)
        )
    if site_id is None:
        return []
    return list(
        session.scalars(
            select(ProbeTarget).where(
                ProbeTarget.site_id == site_id,
                ProbeTarget.link_id.is_not(None),
                ProbeTarget.id != target.id,
                ProbeTarget.enabled.is_(True),
            )
        )
    )


def _behind_failure(session: Session, target: ProbeTarget) -> bool:
    ups = _upstream_links(session, target)
    return bool(ups) and all(u.status in FAILING for u in ups)


def _mark_behind(session: Session, link_target: ProbeTarget, at: datetime) -> None:
    """A link gone down makes what is behind it, already found down, unreachable instead."""
    if link_target.link_id is None:
        return
    behind_links = select(NetLink.id).where(NetLink.upstream_site_id == link_target.site_id)
    behind = session.scalars(
        select(ProbeTarget).where(
            ProbeTarget.status == DOWN,
            (ProbeTarget.link_id.in_(behind_links))
            | ((ProbeTarget.site_id == link_target.site_id) & ProbeTarget.endpoint_id.is_not(None)),
        )
    )
    for target in behind:
        target.status = UNREACHABLE
        alerts.clear(
            session,
            target_id=target.id,
            rule="unavailable",
            at=at,
            note=f"behind target {link_target.id}",
        )
        _mark_behind(session, target, at)


def _window_rules(session: Session, settings: Settings, target: ProbeTarget, at: datetime) -> None:
    window = list(
        session.scalars(
            select(ProbeResult)
            .where(ProbeResult.target_id == target.id)
            .order_by(ProbeResult.at.desc(), ProbeResult.id.desc())
            .limit(settings.netmon_window_probes)
        )
    )
    # Loss among the probes that were answered: a probe with no reply at all counts towards
    # `unavailable`, so an outage is one alert, not two.
    losses = [r.loss_pct for r in window if r.success and r.loss_pct is not None]
    loss = sum(losses) / len(losses) if losses else 0.0
    warn = settings.netmon_loss_warn_pct
    if target.module == "icmp" and warn < loss < 100 and target.status == UP:
        alerts.raise_alert(
            session,
            settings=settings,
            target=target,
            rule="loss",
            severity=alerts.HIGH if loss >= 2 * warn else alerts.WARNING,
            detail=f"loss {loss:.1f} % over the last {len(window)} probes (> {warn:g} %)",
            at=at,
            data={"loss_pct": round(loss, 1)},
        )
    elif loss <= warn or target.status != UP:
        alerts.clear(session, target_id=target.id, rule="loss", at=at)
    rtts = [r.rtt_ms for r in window if r.success and r.rtt_ms is not None]
    rtt = sum(rtts) / len(rtts) if rtts else 0.0
    limit = settings.netmon_latency_warn_ms
    if rtt > limit:
        alerts.raise_alert(
            session,
            settings=settings,
            target=target,
            rule="latency",
            severity=alerts.HIGH if rtt >= 2 * limit else alerts.WARNING,
            detail=f"average RTT {rtt:.1f} ms over the last {len(rtts)} answers (> {limit:g} ms)",
            at=at,
            data={"rtt_ms": round(rtt, 1)},
        )
    elif rtts:
        alerts.clear(session, target_id=target.id, rule="latency", at=at)
