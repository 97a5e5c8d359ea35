"""Meetings: booking refuses a double-booked endpoint and a meeting that ends before it starts;
readiness from the endpoints' and links' probe state, with alerts and the meeting log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.config import Settings
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.netmon import alerts, meetings, monitor
from lienthong.netmon.models import ProbeTarget
from lienthong.netmon.probes import ProbeOutcome
from tests.conftest import signed_in
from tests.netmon.conftest import HA_LONG, HONG_GAI, PROVINCE, add_endpoint, add_link


def _set(db: Session, settings: Settings, target: ProbeTarget, *, up: bool) -> None:
    for _ in range(settings.netmon_down_after):
        monitor.record(
            db,
            settings=settings,
            target=target,
            outcome=ProbeOutcome(up, rtt_ms=3.0 if up else None, loss_pct=0.0 if up else 100.0),
            at=utcnow(),
        )


def test_booking_refusals(db: Session) -> None:
    room = add_endpoint(
        db, site=HONG_GAI, room="Phòng 1", protocol="sip", address="sip:p1@127.0.0.1:5071"
    )
    assert room.endpoint_id is not None
    start = utcnow() + timedelta(hours=2)
    meetings.book(
        db,
        title="Giao ban",
        host_site_code=PROVINCE,
        starts_at=start,
        duration_minutes=60,
        endpoint_ids=[room.endpoint_id],
        actor="t",
    )
    with pytest.raises(AppError) as booked:
        meetings.book(
            db,
            title="Khác",
            host_site_code=PROVINCE,
            starts_at=start + timedelta(minutes=30),
            duration_minutes=60,
            endpoint_ids=[room.endpoint_id],
            actor="t",
        )
    assert booked.value.code == "netmon_endpoint_booked"
    assert booked.value.status_code == 409
    later = meetings.book(
        db,
        title="Sau",
        host_site_code=PROVINCE,
        starts_at=start + timedelta(minutes=60),
        duration_minutes=30,
        endpoint_ids=[room.endpoint_id],
        actor="t",
    )
    assert later.id
    with pytest.raises(AppError) as backwards:
        meetings.book(
            db,
            title="Ngược",
            host_site_code=PROVINCE,
            starts_at=start,
            duration_minutes=-10,
            endpoint_ids=[room.endpoint_id],
            actor="t",
        )
    assert backwards.value.code == "netmon_meeting_period"
    with pytest.raises(AppError) as unknown:
        meetings.book(
            db,
            title="?",
            host_site_code=PROVINCE,
            starts_at=start,
            duration_minutes=10,
            endpoint_ids=[999999],
            actor="t",
        )
    assert unknown.value.code == "netmon_unknown_endpoint"
    with pytest.raises(AppError) as empty:
        meetings.book(
            db,
            title="?",
            host_site_code=PROVINCE,
            starts_at=start,
            duration_minutes=10,
            area_code="000.00.99.H49",
            actor="t",
        )
    assert empty.value.code == "netmon_meeting_empty"


def test_readiness_board_alerts_and_log(db: Session, netmon_settings: Settings) -> None:
    link = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    ready = add_endpoint(
        db, site=HONG_GAI, room="Phòng 1", protocol="sip", address="sip:p1@127.0.0.1:5071"
    )
    silent = add_endpoint(
        db, site=HA_LONG, room="Phòng 2", protocol="sip", address="sip:p2@127.0.0.2:5072"
    )
    for t in (link, ready):
        _set(db, netmon_settings, t, up=True)
    _set(db, netmon_settings, silent, up=False)
    start = utcnow() + timedelta(minutes=20)  # inside the 30 minutes before
    meeting = meetings.book(
        db,
        title="Họp trực tuyến",
        host_site_code=PROVINCE,
        starts_at=start,
        duration_minutes=60,
        area_code="000.00.30.H49",
        actor="t",
    )
    assert meetings.check_readiness(db, settings=netmon_settings) == 2
    board = {s["room"]: s["readiness"] for s in meetings.board(db, meeting=meeting)}
    assert board == {"Phòng 1": "ready", "Phòng 2": "not_answering"}
    alert = alerts.current(db, target_id=silent.id, rule="not_ready")
    assert alert is not None
    assert alert.severity == "warning"  # not started yet
    _set(db, netmon_settings, link, up=False)
    meetings.check_readiness(db, settings=netmon_settings, now=start + timedelta(minutes=1))
    board = {s["room"]: s["readiness"] for s in meetings.board(db, meeting=meeting)}
    assert board["Phòng 1"] == "link_down"
    assert alert.severity == "high"  # under way
    _set(db, netmon_settings, link, up=True)
    _set(db, netmon_settings, silent, up=True)
    meetings.check_readiness(db, settings=netmon_settings, now=start + timedelta(minutes=2))
    assert alerts.current(db, target_id=silent.id, rule="not_ready") is None
    history = [(e.endpoint_id, e.readiness) for e in meetings.log(db, meeting_id=meeting.id)]
    assert history == [
        (ready.endpoint_id, "ready"),
        (silent.endpoint_id, "not_answering"),
        (ready.endpoint_id, "link_down"),
        (ready.endpoint_id, "ready"),
        (silent.endpoint_id, "ready"),
    ]


def test_meeting_api(client: TestClient, db: Session) -> None:
    network = signed_in(client, db, username="kythuat.hop", role=Role.NETWORK, agency=PROVINCE)
    room = add_endpoint(
        db, site=HONG_GAI, room="Phòng 1", protocol="h323", address="127.0.0.1:1720"
    )
    db.commit()
    body = {
        "title": "Giao ban",
        "host_site_code": PROVINCE,
        "starts_at": (utcnow() + timedelta(hours=1)).isoformat(),
        "duration_minutes": 45,
        "endpoint_ids": [room.endpoint_id],
    }
    made = network.post("/api/v1/netmon/meetings", json=body)
    assert made.status_code == 201
    assert made.json()["seats"][0]["readiness"] == "unknown"
    again = network.post("/api/v1/netmon/meetings", json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "netmon_endpoint_booked"
    assert network.get("/api/v1/netmon/meetings").json()["total"] == 1
    missing = network.get("/api/v1/netmon/meetings/999999")
    assert missing.json()["error"]["code"] == "netmon_unknown_meeting"
