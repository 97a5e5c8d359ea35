"""The probe loop: every target probed on its own jittered schedule, each probe with a timeout.

It runs as one of the worker's background loops (`app.background_loops`), not as a job: a
round's probes take up to the timeout, and a job holds its transaction (on SQLite the write
lock) for its whole run. Here the due targets are claimed in one short transaction, probed off
any transaction in a thread pool, and their results stored in a second one; a failure to store
is logged and the targets come due again, so no round is lost and the loop never sticks.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.config import Settings
from lienthong.kernel.clock import utcnow
from lienthong.netmon import monitor
from lienthong.netmon.models import ProbeTarget
from lienthong.netmon.probes import Probe, ProbeOutcome, default_probes, is_ip

log = logging.getLogger("lienthong.netmon")


@dataclass(frozen=True)
class Due:
    target_id: int
    module: str
    address: str


def next_due(now: datetime, interval: int) -> datetime:
    # ±10 % so that targets imported together drift apart instead of firing in step.
    return now + timedelta(seconds=interval * random.uniform(0.9, 1.1))  # noqa: S311


def claim_due(session: Session, *, now: datetime, limit: int) -> list[Due]:
    targets = session.scalars(
        select(ProbeTarget)
        .where(ProbeTarget.enabled.is_(True), ProbeTarget.next_due_at <= now)
        .order_by(ProbeTarget.next_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for target in targets:
        target.next_due_at = next_due(now, target.interval_seconds)
    return [Due(t.id, t.module, t.address) for t in targets]


def run_probe(
    probes: Mapping[str, Probe], module: str, address: str, timeout: float
) -> ProbeOutcome:
    """Probe the addresses (a link may have several) in order until one answers."""
    probe = probes.get(module)
    if probe is None:
        return ProbeOutcome(False, detail=f"no probe for module {module}")
    outcome = ProbeOutcome(False, detail="no address")
    for one in address.split():
        try:
            outcome = probe.probe(one, timeout=timeout)
        except Exception as exc:  # a probe bug must not lose the round
            log.exception("probe raised", extra={"module": module, "address": one})
            outcome = ProbeOutcome(False, detail=f"{type(exc).__name__}: {exc}")
        if outcome.success:
            break
    return outcome


@dataclass
class Prober:
    factory: sessionmaker[Session]
    settings: Settings
    probes: Mapping[str, Probe] = field(default_factory=default_probes)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.netmon_probe_threads, thread_name_prefix="netmon-probe"
        )

    def run_round(self, *, now: datetime | None = None) -> int:
        """Probe every due target once; the number probed."""
        now = now or utcnow()
        with self.factory.begin() as session:
            due = claim_due(session, now=now, limit=self.settings.netmon_round_max)
        if not due:
            return 0
        outcomes = self.probe_all(due)
        at = utcnow()
        try:
            with self.factory.begin() as session:
                # Links first, so that what is behind a link that failed in this very round
                # sees it failing.
                order = sorted(zip(due, outcomes, strict=True), key=lambda p: p[0].module != "icmp")
                for item, outcome in order:
                    target = session.get(ProbeTarget, item.target_id)
                    if target is not None:
                        monitor.record(
                            session, settings=self.settings, target=target, outcome=outcome, at=at
                        )
        except Exception:
            log.exception("probe results not stored", extra={"targets": len(due)})
        return len(due)

    def probe_all(self, due: Sequence[Due]) -> list[ProbeOutcome]:
        """Every due target probed once: ICMP to IP addresses in one batch (a probe with
        `probe_many`), the rest in the thread pool meanwhile; a link whose first address fails
        is tried on its others."""
        timeout = self.settings.netmon_timeout_seconds
        icmp = self.probes.get("icmp")
        batch = getattr(icmp, "probe_many", None)
        batched = [
            i
            for i, d in enumerate(due)
            if batch is not None and d.module == "icmp" and is_ip(d.address.split()[0])
        ]
        chosen = set(batched)
        # The batch runs its own asyncio loop: in a pool thread, where no loop is running.
        batch_result = (
            self._pool.submit(batch, [due[i].address.split()[0] for i in batched], timeout=timeout)
            if batched and batch is not None
            else None
        )
        rest = {
            i: self._pool.submit(run_probe, self.probes, d.module, d.address, timeout)
            for i, d in enumerate(due)
            if i not in chosen
        }
        outcomes: dict[int, ProbeOutcome] = {}
        if batch_result is not None:
            for i, outcome in zip(batched, batch_result.result(), strict=True):
                others = " ".join(due[i].address.split()[1:])
                if not outcome.success and others:
                    outcome = run_probe(self.probes, "icmp", others, timeout)
                outcomes[i] = outcome
        for i, future in rest.items():
            outcomes[i] = future.result()
        return [outcomes[i] for i in range(len(due))]

    def run_forever(self, stop: threading.Event) -> None:
        log.info("netmon prober started")
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_round()
            except Exception:  # a database away for a moment must not end the loop
                log.exception("netmon round failed")
            stop.wait(max(0.2, 1.0 - (time.monotonic() - started)))
        self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("netmon prober stopped")


def probe_now(
    session: Session, *, settings: Settings, target: ProbeTarget, store: bool
) -> ProbeOutcome:
    """One probe of `target` now (the CLI's `net probe`); stored when `store`."""
    outcome = run_probe(
        default_probes(), target.module, target.address, settings.netmon_timeout_seconds
    )
    if store:
        monitor.record(session, settings=settings, target=target, outcome=outcome, at=utcnow())
    return outcome
