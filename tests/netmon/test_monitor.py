"""Inventory import, probe rounds on loopback, status and alert rules, figures, and an alert
reaching a real SMTP server through kernel/notify.py."""

from __future__ import annotations

import socket
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import job_handlers
from lienthong.config import Settings
from lienthong.kernel import jobs, notify
from lienthong.kernel.clock import local_today, utcnow
from lienthong.kernel.errors import AppError
from lienthong.netmon import alerts, figures, inventory, monitor
from lienthong.netmon.models import (
    DOWN,
    UNREACHABLE,
    UP,
    NetAlert,
    NetLink,
    ProbeRollup,
    ProbeTarget,
)
from lienthong.netmon.prober import Prober
from lienthong.netmon.probes import ProbeOutcome
from lienthong.runtime import build_runtime
from tests.fixtures.smtp import SmtpServer, wait_for
from tests.netmon.conftest import HA_LONG, HONG_GAI, LINK_HEADER, PROVINCE, add_endpoint, add_link


def test_import_is_all_or_nothing_with_every_bad_row(db: Session) -> None:
    text = LINK_HEADER + (
        f"{HONG_GAI},VNPT,QN-001,100,127.0.0.1,{PROVINCE},in_service,false\n"
        "000.00.99.H49,VNPT,QN-002,100,127.0.0.2,,in_service,false\n"
        f"{HA_LONG},Viettel,QN-001,100,300.1.1.1,,in_service,false\n"
        f"{HA_LONG},Viettel,QN-004,fast,127.0.0.4,,broken,maybe\n"
    )
    with pytest.raises(AppError) as refused:
        inventory.import_links(db, text=text, interval=30)
    assert refused.value.code == "netmon_import_invalid"
    problems = {(e["line"], e["column"]) for e in refused.value.details["errors"]}
    assert problems == {
        (3, "site_code"),
        (4, "circuit_id"),
        (4, "addresses"),
        (5, "bandwidth_mbps"),
        (5, "state"),
        (5, "illustrative"),
    }
    assert db.scalar(select(func.count()).select_from(NetLink)) == 0


def test_endpoint_import_checks_sip_uris(db: Session) -> None:
    text = (
        "site_code,room,model,protocol,address,state,illustrative\n"
        f"{HONG_GAI},Phòng họp 1,Polycom,SIP,sip:ph1@127.0.0.1:5060,in_service,true\n"
        f"{HONG_GAI},Phòng họp 2,Polycom,SIP,tel:12345,in_service,true\n"
        f"{HONG_GAI},Phòng họp 3,Cisco,H.323,127.0.0.1,in_service,true\n"
        f"{HONG_GAI},Phòng họp 4,Cisco,ISDN,127.0.0.1,in_service,true\n"
    )
    with pytest.raises(AppError) as refused:
        inventory.import_endpoints(db, text=text, interval=30)
    assert {(e["line"], e["column"]) for e in refused.value.details["errors"]} == {
        (3, "address"),
        (5, "protocol"),
    }


def test_export_reads_back_through_import(db: Session) -> None:
    add_link(
        db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1 127.0.0.2", upstream=PROVINCE
    )
    exported = "".join(inventory.export_links(db))
    assert (
        f"{HONG_GAI},VNPT,QN-HG-01,100,127.0.0.1 127.0.0.2,{PROVINCE},in_service,false" in exported
    )
    again = inventory.import_links(db, text=exported, interval=30)
    assert (again.created, again.updated) == (0, 1)


def _prober(db: Session, settings: Settings, factory: sessionmaker[Session]) -> Prober:
    db.execute(update(ProbeTarget).values(next_due_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    return Prober(factory, settings)


def _due_now(db: Session) -> None:
    db.execute(update(ProbeTarget).values(next_due_at=utcnow() - timedelta(seconds=1)))
    db.commit()


def test_rounds_on_loopback_figures_and_rollups(
    db: Session, netmon_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    up = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    port = _closed_port()
    dead = add_endpoint(
        db, site=HA_LONG, room="Phòng họp", protocol="h323", address=f"127.0.0.1:{port}"
    )
    prober = _prober(db, netmon_settings, session_factory)
    assert prober.run_round() == 2
    _due_now(db)
    assert prober.run_round() == 2
    assert prober.run_round() == 0  # both next due in about 30 s, jittered
    db.expire_all()
    assert (up.status, dead.status) == (UP, DOWN)
    assert 24 <= (up.next_due_at - utcnow()).total_seconds() <= 33.5  # ±10 % of 30 s
    hours = figures.hourly(db, target_id=up.id, since=utcnow() - timedelta(hours=1))
    assert hours[0]["probes"] == 2
    assert hours[0]["availability_pct"] == 100.0
    assert hours[0]["rtt_p95_ms"] is not None
    day = db.get_one(ProbeRollup, (dead.id, "day", monitor.day_start(utcnow())))
    assert (day.probes, day.up) == (2, 0)
    report = figures.sla_report(db, settings=netmon_settings, month=local_today())
    assert report == [
        {
            "circuit_id": "QN-HG-01",
            "provider": "VNPT",
            "site_code": HONG_GAI,
            "site_name": "UBND phường Hồng Gai",
            "probes": 2,
            "availability_pct": 100.0,
            "target_pct": 99.0,
            "met": True,
        }
    ]
    rows, total, counts = figures.board(db, filters=figures.BoardFilter(kind="endpoint"))
    assert total == 1
    assert rows[0]["status"] == DOWN
    assert counts[DOWN] == 1
    assert rows[0]["area_name"] == "UBND thành phố Hạ Long"
    summary = figures.network_summary(db)
    assert summary["links"][UP] == 1
    assert summary["endpoints"][DOWN] == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fail(db: Session, settings: Settings, target: ProbeTarget, n: int = 1) -> None:
    for _ in range(n):
        monitor.record(
            db,
            settings=settings,
            target=target,
            outcome=ProbeOutcome(False, loss_pct=100, detail="no echo reply"),
            at=utcnow(),
        )


def _ok(
    db: Session, settings: Settings, target: ProbeTarget, *, loss: float = 0, rtt: float = 5
) -> None:
    monitor.record(
        db,
        settings=settings,
        target=target,
        outcome=ProbeOutcome(True, rtt_ms=rtt, loss_pct=loss),
        at=utcnow(),
    )


def test_unavailable_opens_after_n_probes_and_closes(
    db: Session, netmon_settings: Settings
) -> None:
    target = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    _ok(db, netmon_settings, target)
    _fail(db, netmon_settings, target)
    assert target.status == UP
    assert alerts.current(db, target_id=target.id, rule="unavailable") is None
    _fail(db, netmon_settings, target)
    alert = alerts.current(db, target_id=target.id, rule="unavailable")
    assert target.status == DOWN
    assert alert is not None
    assert alert.severity == "high"
    told = db.scalars(
        select(notify.Notification).where(notify.Notification.ref == str(alert.id))
    ).all()
    assert [n.recipient for n in told] == ["noc@quangninh.test"]
    _fail(db, netmon_settings, target, 3)  # still down: no second notification
    assert db.scalar(select(func.count()).select_from(notify.Notification)) == 1
    alerts.acknowledge(db, alert_id=alert.id, actor="kythuat", note="VNPT đang xử lý")
    with pytest.raises(AppError) as again:
        alerts.acknowledge(db, alert_id=alert.id, actor="kythuat", note="x")
    assert again.value.code == "netmon_alert_not_open"
    _ok(db, netmon_settings, target)
    assert target.status == UP
    assert alert.closed_at is not None
    assert alert.state == "closed"
    assert alert.ack_note == "VNPT đang xử lý"


def test_loss_and_latency_rules_escalate_once(db: Session, netmon_settings: Settings) -> None:
    target = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    _ok(db, netmon_settings, target, loss=30, rtt=5)
    loss = alerts.current(db, target_id=target.id, rule="loss")
    assert loss is not None
    assert loss.severity == "warning"
    _ok(db, netmon_settings, target, loss=80, rtt=400)  # average 55 %: high
    assert loss.severity == "high"
    latency = alerts.current(db, target_id=target.id, rule="latency")
    assert latency is not None
    assert latency.severity == "warning"
    refs = [r for r in db.scalars(select(notify.Notification.ref)) if r]
    assert sorted(refs) == sorted(
        [str(loss.id), str(loss.id), str(latency.id)]
    )  # warning, then high
    for _ in range(10):
        _ok(db, netmon_settings, target)
    assert alerts.current(db, target_id=target.id, rule="loss") is None
    assert alerts.current(db, target_id=target.id, rule="latency") is None


def test_a_site_behind_a_down_link_is_unreachable_not_another_alert(
    db: Session, netmon_settings: Settings
) -> None:
    upstream = add_link(db, site=HA_LONG, circuit="QN-HL-01", addresses="127.0.0.1")
    behind = add_link(
        db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.2", upstream=HA_LONG
    )
    room = add_endpoint(
        db, site=HA_LONG, room="Phòng họp", protocol="sip", address="sip:ph@127.0.0.1:5999"
    )
    for t in (upstream, behind, room):
        _ok(db, netmon_settings, t)
    # The link behind is found down first, then its upstream: it becomes unreachable.
    _fail(db, netmon_settings, behind, 2)
    assert behind.status == DOWN
    _fail(db, netmon_settings, upstream, 2)
    _fail(db, netmon_settings, room, 2)
    assert (upstream.status, behind.status, room.status) == (DOWN, UNREACHABLE, UNREACHABLE)
    active = db.scalars(select(NetAlert).where(NetAlert.closed_at.is_(None))).all()
    assert [(a.target_id, a.rule) for a in active] == [(upstream.id, "unavailable")]


def test_flapping_is_one_alert(db: Session, netmon_settings: Settings) -> None:
    settings = netmon_settings.model_copy(update={"netmon_down_after": 1, "netmon_flap_changes": 4})
    target = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    _ok(db, settings, target)
    for _ in range(4):
        _fail(db, settings, target)
        _ok(db, settings, target)
    rules = [a.rule for a in db.scalars(select(NetAlert).order_by(NetAlert.id))]
    assert rules.count("flapping") == 1
    assert rules.count("unavailable") == 2  # the first two changes, before it counted as flapping
    assert alerts.current(db, target_id=target.id, rule="flapping") is not None


def test_an_alert_reaches_a_real_smtp_server(
    db: Session,
    netmon_settings: Settings,
    session_factory: sessionmaker[Session],
    smtp_server: SmtpServer,
) -> None:
    settings = netmon_settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    target = add_link(
        db, site=HONG_GAI, circuit="QN-HG-01", addresses=f"127.0.0.1:{_closed_port()}"
    )
    db.get_one(ProbeTarget, target.id).module = "tcp"
    prober = _prober(db, settings, session_factory)
    for _ in range(2):
        _due_now(db)
        prober.run_round()
    runtime = build_runtime(settings)
    worker = jobs.Worker(factory=session_factory, handlers=job_handlers(runtime))
    worker.run_until_idle()
    messages = wait_for(smtp_server.messages, what="the alert e-mail")
    subject = str(make_header(decode_header(messages[0]["Subject"])))
    assert subject == "[HIGH] Mất kết nối / Unavailable: UBND phường Hồng Gai"
    assert messages[0]["To"] == "noc@quangninh.test"
