"""The security API: events posted per source token (and refused without one), bad input
counted or answered 4xx, alerts acted on, cases opened and closed, sources and rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.kernel.clock import utcnow
from lienthong.runtime import Runtime
from lienthong.security import alerts, events
from lienthong.security.intake import Received
from lienthong.security.models import SecurityAction, SecurityAlert, SecuritySuppression
from tests.conftest import PROVINCE, signed_in

Flush = Callable[[Runtime], int]


@pytest.fixture
def analyst(client: TestClient, db: Session) -> TestClient:
    return signed_in(client, db, username="soc.analyst", role=Role.SECURITY, agency=PROVINCE)


def _source(analyst: TestClient, name: str = "qlvb-ha-long") -> str:
    answer = analyst.post("/api/v1/security/sources", json={"name": name, "kind": "http"})
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    assert isinstance(token, str)
    assert len(token) > 30
    return token


def _post(client: TestClient, token: str | None, body: object, **headers: str) -> object:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/v1/security/events", content=content, headers=headers)


def test_posted_events_are_stored_normalised_and_raise_alerts(
    analyst: TestClient, runtime: Runtime, flush: Flush
) -> None:
    token = _source(analyst)
    attack = {
        "@timestamp": "2026-12-03T05:00:00Z",
        "event": {"category": "web", "module": "nginx"},
        "source": {"ip": "203.0.113.50"},
        "url": {"original": "/dvc/tra-cuu?id=1 UNION SELECT password FROM users"},
    }
    answer = _post(analyst, token, [attack, {"message": "plain"}])
    assert answer.status_code == 202, answer.text  # type: ignore[attr-defined]
    assert answer.json() == {"accepted": 2, "dropped": 0, "malformed": 0}  # type: ignore[attr-defined]
    assert flush(runtime) >= 2

    found = analyst.get("/api/v1/security/events", params={"source_ip": "203.0.113.50"}).json()
    assert found["total"] == 1
    event = found["items"][0]
    assert event["fields"]["url.original"].startswith("/dvc/tra-cuu")  # flattened to ECS names
    assert json.loads(event["original"])["source"] == {"ip": "203.0.113.50"}
    assert analyst.get("/api/v1/security/events", params={"q": "union select"}).json()["total"] == 1

    queue = analyst.get("/api/v1/security/alerts", params={"state": "active"}).json()
    (alert,) = [a for a in queue["items"] if a["rule_title"].startswith("SQL injection")]
    assert alert["level"] == "high"
    assert alert["source_ip"] == "203.0.113.50"
    detail = analyst.get(f"/api/v1/security/alerts/{alert['id']}").json()
    assert [e["id"] for e in detail["events"]] == [event["id"]]

    sources = {s["name"]: s for s in analyst.get("/api/v1/security/sources").json()}
    assert sources["qlvb-ha-long"]["events"] == 2
    assert sources["qlvb-ha-long"]["events_last_minute"] == 1  # the plain one: stamped now


def test_posting_needs_the_sources_token_and_objects(
    analyst: TestClient, client: TestClient, runtime: Runtime
) -> None:
    token = _source(analyst)
    refused = _post(client, None, {"message": "x"})
    assert refused.status_code == 401  # type: ignore[attr-defined]
    assert refused.json()["error"]["code"] == "bad_source_token"  # type: ignore[attr-defined]
    assert _post(client, "wrong", {"message": "x"}).status_code == 401  # type: ignore[attr-defined]
    not_json = _post(client, token, b"{not json")
    assert not_json.json()["error"]["code"] == "events_not_json"  # type: ignore[attr-defined]
    not_object = _post(client, token, [1, "two"])
    assert not_object.status_code == 422  # type: ignore[attr-defined]
    assert not_object.json()["error"]["code"] == "event_not_object"  # type: ignore[attr-defined]
    lines = b'{"message": "one"}\n[1]\nnot json\n\xff\xfe\n{"message": "two"}\n'
    mixed = _post(client, token, lines, **{"Content-Type": "application/x-ndjson"})
    assert mixed.json() == {"accepted": 2, "dropped": 0, "malformed": 3}  # type: ignore[attr-defined]
    big = _post(client, token, b"[" + b'{"m": 1},' * 1_000_000 + b"{}]")
    assert big.status_code == 413  # type: ignore[attr-defined]
    assert big.json()["error"]["code"] == "events_too_large"  # type: ignore[attr-defined]
    counts = runtime.security_intake.counts_since_last()
    assert counts["qlvb-ha-long"].malformed == 3


def test_a_flood_from_one_source_is_dropped_and_counted_not_waited_for(
    analyst: TestClient, runtime: Runtime, flush: Flush
) -> None:
    token = _source(analyst)
    runtime.security_intake.per_source_per_second = 50
    answer = _post(analyst, token, [{"message": f"m{i}"} for i in range(500)])
    body = answer.json()  # type: ignore[attr-defined]
    assert body["accepted"] + body["dropped"] == 500
    assert 50 <= body["accepted"] < 100
    assert body["dropped"] > 400
    flush(runtime)
    sources = {s["name"]: s for s in analyst.get("/api/v1/security/sources").json()}
    assert sources["qlvb-ha-long"]["dropped"] == body["dropped"]
    assert analyst.get("/api/v1/security/summary").json()["dropped_events"] == body["dropped"]


def _alert(db: Session, **changes: object) -> SecurityAlert:
    now = utcnow()
    row = SecurityAlert(
        rule_id="r-1",
        rule_title="Test rule",
        level="critical",
        tags=["attack.t1190"],
        group_key="source.ip=192.0.2.1",
        source_ip="192.0.2.1",
        target=None,
        count=1,
        first_seen=now,
        last_seen=now,
        state="open",
        notified=False,
    )
    for key, value in changes.items():
        setattr(row, key, value)
    db.add(row)
    db.commit()
    return row


def test_alert_actions_are_recorded_and_closed_alerts_refuse_more(
    analyst: TestClient, db: Session
) -> None:
    alert = _alert(db)
    url = f"/api/v1/security/alerts/{alert.id}/actions"
    assert analyst.post(url, json={"action": "acknowledge"}).json()["state"] == "acknowledged"
    assigned = analyst.post(url, json={"action": "assign", "assignee": "nguyen.van.a"}).json()
    assert assigned["assignee"] == "nguyen.van.a"
    no_name = analyst.post(url, json={"action": "assign"}).json()
    assert no_name["error"]["code"] == "assignee_required"
    empty = analyst.post(url, json={"action": "comment", "comment": "  "}).json()
    assert empty["error"]["code"] == "comment_required"
    analyst.post(url, json={"action": "comment", "comment": "Đã chặn IP tại tường lửa"})
    no_reason = analyst.post(url, json={"action": "close"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    closed = analyst.post(url, json={"action": "close", "comment": "Đã xử lý"}).json()
    assert (closed["state"], closed["close_reason"]) == ("closed", "Đã xử lý")
    again = analyst.post(url, json={"action": "acknowledge"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "alert_closed"
    assert [a["action"] for a in closed["actions"]] == [
        "acknowledge",
        "assign",
        "comment",
        "close",
    ]
    assert {a["actor"] for a in closed["actions"]} == {"Soc.Analyst"}
    missing = analyst.get("/api/v1/security/alerts/999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "alert_not_found"


def test_a_false_positive_suppresses_the_group_until_it_expires(
    analyst: TestClient, db: Session
) -> None:
    alert = _alert(db)
    url = f"/api/v1/security/alerts/{alert.id}/actions"
    answer = analyst.post(
        url, json={"action": "false_positive", "comment": "Máy quét nội bộ", "suppress_hours": 2}
    )
    assert answer.json()["state"] == "false_positive"
    suppression = db.scalar(select(SecuritySuppression).where(SecuritySuppression.rule_id == "r-1"))
    assert suppression is not None
    assert suppression.until is not None
    from lienthong.security.detection import Rule

    rule = Rule(id="r-1", title="Test rule", level="critical", tags=[], path="-")
    now = utcnow()
    stored = events.store(
        db,
        [
            Received("test", "http", {"source.ip": ip}, None, now, 0.0)
            for ip in ("192.0.2.1", "192.0.2.2")
        ],
    )
    match = alerts.Match(rule, {"source.ip": "192.0.2.1"}, stored[0])
    raised = alerts.raise_alerts(
        db, matches=[match], window=timedelta(minutes=15), recipients=alerts.Recipients()
    )
    assert raised == []
    later = utcnow() + timedelta(hours=3)
    other = alerts.Match(rule, {"source.ip": "192.0.2.2"}, stored[1])
    # Another address is not suppressed; after expiry the first one alerts again.
    assert (
        len(
            alerts.raise_alerts(
                db, matches=[other], window=timedelta(minutes=15), recipients=alerts.Recipients()
            )
        )
        == 1
    )
    assert (
        len(
            alerts.raise_alerts(
                db,
                matches=[match],
                window=timedelta(minutes=15),
                recipients=alerts.Recipients(),
                now=later,
            )
        )
        == 1
    )
    db.rollback()


def test_cases_gather_alerts_and_close_them_with_a_reason(analyst: TestClient, db: Session) -> None:
    first, second = _alert(db, level="medium"), _alert(db, group_key="source.ip=192.0.2.9")
    opened = analyst.post(
        "/api/v1/security/cases", json={"alert_ids": [first.id], "title": "Tấn công cổng DVC"}
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert (case["title"], case["level"], case["state"]) == ("Tấn công cổng DVC", "medium", "open")
    added = analyst.post(
        "/api/v1/security/cases", json={"alert_ids": [second.id], "case_id": case["id"]}
    ).json()
    assert added["level"] == "critical"  # the worst of its alerts
    assert {a["id"] for a in added["alerts"]} == {first.id, second.id}
    url = f"/api/v1/security/cases/{case['id']}/actions"
    analyst.post(url, json={"action": "assign", "assignee": "tran.thi.b"})
    done = analyst.post(url, json={"action": "close", "comment": "Đã vá lỗ hổng"}).json()
    assert done["state"] == "closed"
    assert done["closed_at"]
    assert {a["state"] for a in done["alerts"]} == {"closed"}
    refused = analyst.post(url, json={"action": "assign", "assignee": "x"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "case_closed"
    none = analyst.get("/api/v1/security/cases/999999").json()
    assert none["error"]["code"] == "case_not_found"
    closed_alert = analyst.post("/api/v1/security/cases", json={"alert_ids": [first.id]}).json()
    assert closed_alert["error"]["code"] == "alert_closed"
    actions = db.scalars(select(SecurityAction).where(SecurityAction.case_id == case["id"])).all()
    assert [a.action for a in actions] == ["open", "add_alerts", "add_alerts", "assign", "close"]


def test_roles_sources_and_rules(analyst: TestClient, client: TestClient, db: Session) -> None:
    rules = analyst.get("/api/v1/security/rules").json()
    assert len(rules["loaded"]) >= 20
    assert rules["failed"] == []
    _source(analyst, "cong-dvc")
    again = analyst.post("/api/v1/security/sources", json={"name": "cong-dvc", "kind": "http"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "source_exists"
    client.cookies.clear()
    signed_in(client, db, username="clerk.x", role=Role.CLERK, agency=PROVINCE)
    assert client.get("/api/v1/security/alerts").status_code == 403


def test_services_refuse_what_the_api_cannot_send(db: Session) -> None:
    from lienthong.kernel.errors import AppError
    from lienthong.security import cases

    alert = _alert(db)
    with pytest.raises(AppError) as unknown:
        alerts.act_on_alert(db, alert_id=alert.id, actor="x", action="explode")
    assert unknown.value.code == "unknown_action"
    with pytest.raises(AppError) as nothing:
        cases.escalate(db, alert_ids=[], actor="x")
    assert nothing.value.code == "alerts_required"
    with pytest.raises(AppError) as unknown_case:
        cases.act_on_case(
            db,
            case_id=cases.escalate(db, alert_ids=[alert.id], actor="x").id,
            actor="x",
            action="explode",
        )
    assert unknown_case.value.code == "unknown_action"


def test_incident_report_and_indicators_are_signed_stix_bundles(
    analyst: TestClient, db: Session
) -> None:
    from lienthong.security import reports

    alert = _alert(db, target="cong-dvc.quangninh.gov.vn", tags=["attack.t1190"])
    case = analyst.post(
        "/api/v1/security/cases", json={"alert_ids": [alert.id], "title": "Khai thác cổng DVC"}
    ).json()
    signed = analyst.get(f"/api/v1/security/cases/{case['id']}/report").json()
    assert reports.verify(signed)
    objects = {o["type"]: o for o in signed["bundle"]["objects"]}
    assert signed["bundle"]["type"] == "bundle"
    assert {"identity", "incident", "indicator", "attack-pattern", "relationship"} <= set(objects)
    incident = objects["incident"]
    assert incident["spec_version"] == "2.1"
    assert incident["name"] == "Khai thác cổng DVC"
    assert incident["x_lienthong_affected_systems"] == ["cong-dvc.quangninh.gov.vn"]
    assert [a["action"] for a in incident["x_lienthong_actions"]] == ["open", "add_alerts"]
    assert objects["indicator"]["pattern"] == "[ipv4-addr:value = '192.0.2.1']"
    assert objects["attack-pattern"]["external_references"][0]["external_id"] == "T1190"
    tampered = {**signed, "bundle": {**signed["bundle"], "objects": []}}
    assert not reports.verify(tampered)
    shared = analyst.get("/api/v1/security/indicators").json()
    assert reports.verify(shared)
    patterns = [o["pattern"] for o in shared["bundle"]["objects"] if o["type"] == "indicator"]
    assert patterns == ["[ipv4-addr:value = '192.0.2.1']"]
    missing = analyst.get("/api/v1/security/cases/999999/report").json()
    assert missing["error"]["code"] == "case_not_found"
