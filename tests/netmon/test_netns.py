"""Probes and rules across a real network: hosts in network namespaces behind veth pairs, with
loss and delay from tc netem, and links brought down and up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lienthong.config import Settings
from lienthong.kernel.clock import utcnow
from lienthong.netmon import alerts
from lienthong.netmon.models import DOWN, UNREACHABLE, UP, NetAlert, ProbeTarget
from lienthong.netmon.prober import Prober
from lienthong.netmon.probes import IcmpProbe, default_probes
from tests.netmon.conftest import HA_LONG, HONG_GAI, add_link
from tests.netmon.netns import Network, network


@pytest.fixture
def net() -> Iterator[Network]:
    made = network()
    yield made
    made.close()


def test_thirty_percent_loss_is_seen_as_about_thirty(net: Network) -> None:
    host = net.host(1)
    host.netem("loss 30%")
    outcome = IcmpProbe(count=100, interval=0.002).probe(host.address, timeout=12)
    assert outcome.success
    assert outcome.loss_pct is not None
    assert 16 <= outcome.loss_pct <= 44, outcome  # 100 packets: 30 % ± 3 standard deviations


def _rounds(db: Session, prober: Prober, n: int) -> None:
    for _ in range(n):
        db.execute(update(ProbeTarget).values(next_due_at=utcnow() - timedelta(seconds=1)))
        db.commit()
        prober.run_round()
    db.expire_all()


@pytest.fixture
def prober(netmon_settings: Settings, session_factory: sessionmaker[Session]) -> Prober:
    probes = {**default_probes(), "icmp": IcmpProbe(count=5, interval=0.05)}
    return Prober(session_factory, netmon_settings, probes)


def test_a_200_ms_delay_trips_the_latency_rule(
    db: Session, net: Network, netmon_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    settings = netmon_settings.model_copy(update={"netmon_window_probes": 3})
    prober = Prober(session_factory, settings, {"icmp": IcmpProbe(count=3, interval=0.05)})
    host = net.host(2)
    target = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses=host.address)
    _rounds(db, prober, 1)
    assert target.status == UP
    assert (target.last_rtt_ms or 0) < 50
    host.netem("delay 200ms")
    _rounds(db, prober, 1)
    assert (target.last_rtt_ms or 0) > 150
    # The window's average, (fast + ~200) / 2, is still under 150 ms: no alert yet.
    assert alerts.current(db, target_id=target.id, rule="latency") is None
    _rounds(db, prober, 2)
    alert = alerts.current(db, target_id=target.id, rule="latency")
    assert alert is not None
    assert alert.severity == "warning"
    assert alert.data["rtt_ms"] > 150


def test_a_host_down_opens_an_alert_closes_it_and_what_is_behind_is_unreachable(
    db: Session, net: Network, prober: Prober, netmon_settings: Settings
) -> None:
    gateway = net.host(3)
    commune = net.behind(gateway, 4)
    upstream = add_link(db, site=HA_LONG, circuit="QN-HL-01", addresses=gateway.address)
    behind = add_link(
        db, site=HONG_GAI, circuit="QN-HG-01", addresses=commune.address, upstream=HA_LONG
    )
    _rounds(db, prober, 1)
    assert (upstream.status, behind.status) == (UP, UP)
    gateway.down()
    _rounds(db, prober, netmon_settings.netmon_down_after - 1)
    assert upstream.status == UP  # not yet: N consecutive probes
    _rounds(db, prober, 1)
    assert (upstream.status, behind.status) == (DOWN, UNREACHABLE)
    active = db.scalars(select(NetAlert).where(NetAlert.closed_at.is_(None))).all()
    assert [(a.target_id, a.rule) for a in active] == [(upstream.id, "unavailable")]
    gateway.up()
    for _ in range(5):  # the first echo after the link comes up may wait for ARP
        _rounds(db, prober, 1)
        if (upstream.status, behind.status) == (UP, UP):
            break
    assert (upstream.status, behind.status) == (UP, UP)
    assert db.get_one(NetAlert, active[0].id).closed_at is not None
