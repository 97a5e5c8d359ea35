"""The API and pages with their roles: board, figures, SLA, alerts with acknowledgement, CSV
import/export, `/probe` for Prometheus and the per-target gauges on `/metrics`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.config import Settings
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.netmon import monitor
from lienthong.netmon.api import parse_month
from lienthong.netmon.probes import ProbeOutcome
from tests.conftest import signed_in
from tests.netmon.conftest import HA_LONG, HONG_GAI, LINK_HEADER, PROVINCE, add_link


@pytest.fixture
def network_client(client: TestClient, db: Session) -> TestClient:
    return signed_in(client, db, username="kythuat.mang", role=Role.NETWORK, agency=PROVINCE)


def _down(db: Session, settings: Settings, circuit: str) -> int:
    target = add_link(db, site=HONG_GAI, circuit=circuit, addresses="127.0.0.1")
    for _ in range(settings.netmon_down_after):
        monitor.record(
            db,
            settings=settings,
            target=target,
            outcome=ProbeOutcome(False, detail="x"),
            at=utcnow(),
        )
    db.commit()
    return target.id


def test_roles(clerk_client: TestClient) -> None:
    assert clerk_client.get("/api/v1/netmon/links").status_code == 403
    assert clerk_client.post("/api/v1/netmon/import/links", content=b"").status_code == 403
    clerk_client.cookies.clear()
    assert clerk_client.get("/api/v1/netmon/links").status_code == 401


def test_import_board_figures_and_export(network_client: TestClient, db: Session) -> None:
    csv = LINK_HEADER + f"{HONG_GAI},VNPT,QN-HG-01,100,127.0.0.1,{HA_LONG},in_service,true\n"
    done = network_client.post("/api/v1/netmon/import/links", content=csv.encode())
    assert done.status_code == 200
    assert done.json() == {"rows": 1, "created": 1, "updated": 0}
    bad = network_client.post(
        "/api/v1/netmon/import/links", content=(LINK_HEADER + "x,VNPT,,1,,,,\n").encode()
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "netmon_import_invalid"
    assert len(bad.json()["error"]["details"]["errors"]) == 3
    board = network_client.get("/api/v1/netmon/links", params={"area": "000.00.30.H49"}).json()
    assert board["total"] == 1
    assert board["items"][0]["status"] == "unknown"
    target_id = board["items"][0]["target_id"]
    figures = network_client.get(f"/api/v1/netmon/targets/{target_id}").json()
    assert figures["target"]["label"] == "QN-HG-01"
    assert figures["periods"] == []
    assert (
        network_client.get("/api/v1/netmon/targets/999999").json()["error"]["code"]
        == "netmon_unknown_target"
    )
    sla = network_client.get("/api/v1/netmon/sla", params={"month": "2026-12"}).json()
    assert sla["month"] == "2026-12"
    assert sla["items"][0]["availability_pct"] is None
    wrong = network_client.get("/api/v1/netmon/sla", params={"month": "2026-13"})
    assert wrong.status_code == 422
    with pytest.raises(AppError) as bad_month:
        parse_month("2026-13")
    assert bad_month.value.code == "netmon_invalid_month"
    exported = network_client.get("/api/v1/netmon/export/links.csv").text
    assert f"{HONG_GAI},VNPT,QN-HG-01,100,127.0.0.1,{HA_LONG},in_service,true" in exported
    summary = network_client.get("/api/v1/netmon/summary").json()
    assert summary["links"]["unknown"] == 1


def test_alerts_acknowledge_and_pages(
    network_client: TestClient, db: Session, settings: Settings
) -> None:
    target_id = _down(db, settings, "QN-HG-09")
    listed = network_client.get("/api/v1/netmon/alerts", params={"state": "active"}).json()
    assert [(a["target_id"], a["rule"], a["site_code"]) for a in listed["items"]] == [
        (target_id, "unavailable", HONG_GAI)
    ]
    alert_id = listed["items"][0]["id"]
    acked = network_client.post(
        f"/api/v1/netmon/alerts/{alert_id}/acknowledge", json={"note": "Đã báo VNPT"}
    )
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    again = network_client.post(f"/api/v1/netmon/alerts/{alert_id}/acknowledge", json={"note": "x"})
    assert again.status_code == 409
    missing = network_client.post("/api/v1/netmon/alerts/999999/acknowledge", json={"note": "x"})
    assert missing.json()["error"]["code"] == "netmon_unknown_alert"
    board = network_client.get("/mang")
    assert board.status_code == 200
    assert "UBND phường Hồng Gai" in board.text
    assert "Mất kết nối" in board.text
    page = network_client.get(f"/mang/muc/{target_id}")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "Đã báo VNPT" in network_client.get("/mang/canh-bao?state=acknowledged").text


def test_blackbox_probe_of_the_inventory_only(network_client: TestClient, db: Session) -> None:
    target = add_link(db, site=HONG_GAI, circuit="QN-HG-01", addresses="127.0.0.1")
    db.commit()
    answer = network_client.get("/probe", params={"target": "QN-HG-01", "module": "icmp"})
    assert answer.status_code == 200
    assert "probe_success 1" in answer.text
    assert "probe_icmp_loss_ratio 0.0000" in answer.text
    outside = network_client.get("/probe", params={"target": "192.0.2.1"})
    assert outside.status_code == 404
    assert outside.json()["error"]["code"] == "netmon_unknown_target"
    monitor.record(
        db,
        settings=Settings(),
        target=target,
        outcome=ProbeOutcome(True, rtt_ms=4.0, loss_pct=0.0),
        at=utcnow() - timedelta(seconds=1),
    )
    db.commit()
    metrics = network_client.get("/metrics").text
    assert (
        f'lienthong_netmon_up{{kind="link",module="icmp",provider="VNPT",site="{HONG_GAI}",target="{target.id}"}} 1.0'
        in metrics
    )
