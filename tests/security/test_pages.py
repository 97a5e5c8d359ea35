"""The analysts' pages, served and used through their forms (CSRF included)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.runtime import Runtime
from lienthong.security.intake import NODE_SOURCE
from lienthong.security.models import SecurityAlert
from tests.conftest import PROVINCE, signed_in


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _raise_one(runtime: Runtime, flush: Callable[[Runtime], int]) -> None:
    fields = {
        "event.module": "lienthong",
        "event.reason": "certificate_revoked",
        "event.action": "package_refused",
        "source.ip": "192.0.2.44",
        "@timestamp": "2026-12-03T05:00:00.000Z",
    }
    runtime.security_intake.offer(
        source=NODE_SOURCE, kind="node", fields=fields, original=json.dumps(fields)
    )
    flush(runtime)


def test_queue_alert_and_case_pages_work_through_their_forms(
    client: TestClient, db: Session, runtime: Runtime, flush: Callable[[Runtime], int]
) -> None:
    _raise_one(runtime, flush)
    signed_in(client, db, username="soc.page", role=Role.SECURITY, agency=PROVINCE)
    queue = client.get("/security")
    assert queue.status_code == 200
    assert 'href="/security"' in queue.text  # the nav link for the role
    assert "Hàng đợi cảnh báo" in queue.text
    assert "revoked or expired certificate" in queue.text
    alert = db.query(SecurityAlert).filter_by(source_ip="192.0.2.44").one()
    page = client.get(f"/security/alerts/{alert.id}")
    assert page.status_code == 200
    assert "certificate_revoked" in page.text  # the matching event's original or fields
    token = _csrf(page.text)
    url = f"/security/alerts/{alert.id}/actions"
    moved = client.post(
        url,
        data={"action": "assign", "assignee": "le.van.c", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    refused = client.post(url, data={"action": "close", "csrf_token": token})
    assert "Cần ghi lý do đóng." in refused.text  # the reason is required, said on the page
    to_case = client.post(
        url,
        data={"action": "escalate", "comment": "Chứng thư bị thu hồi", "csrf_token": token},
        follow_redirects=False,
    )
    assert to_case.status_code == 303
    case_page = client.get(to_case.headers["location"])
    assert "Chứng thư bị thu hồi" in case_page.text
    closed = client.post(
        to_case.headers["location"] + "/actions",
        data={"action": "close", "comment": "Đã thay chứng thư", "csrf_token": token},
    )
    assert "Đã thay chứng thư" in closed.text
    db.refresh(alert)
    assert (alert.state, alert.assignee) == ("closed", "le.van.c")
    for path in (
        "/security/cases?state=closed",
        "/security/rules",
        "/security/sources",
        "/security/events?field=source_ip&value=192.0.2.44",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
    assert "192.0.2.44" in client.get("/security/events?field=source_ip&value=192.0.2.44").text
    assert 'data-testid="failed-count">0<' in client.get("/security/rules").text
    assert NODE_SOURCE in client.get("/security/sources").text


def test_pages_need_the_security_role(client: TestClient, db: Session) -> None:
    assert client.get("/security", follow_redirects=False).status_code == 303  # sign in first
    signed_in(client, db, username="clerk.p", role=Role.CLERK, agency=PROVINCE)
    assert client.get("/security").status_code == 403
    assert 'href="/security"' not in client.get("/").text


def test_several_alerts_from_the_queue_become_one_case(
    client: TestClient, db: Session, runtime: Runtime, flush: Callable[[Runtime], int]
) -> None:
    from lienthong.security.seed import seed_security_demo

    seed_security_demo(db)
    db.commit()
    signed_in(client, db, username="soc.bulk", role=Role.SECURITY, agency=PROVINCE)
    queue = client.get("/security")
    ids = [int(i) for i in re.findall(r'name="alert_ids" value="(\d+)"', queue.text)][:3]
    assert len(ids) == 3
    answer = client.post(
        "/security/cases",
        data={"alert_ids": ids, "title": "Dò quét cổng DVC", "csrf_token": _csrf(queue.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert "Dò quét cổng DVC" in page.text
    assert all(f'href="/security/alerts/{i}"' in page.text for i in ids)
    none = client.post("/security/cases", data={"csrf_token": _csrf(queue.text)})
    assert "Chọn ít nhất một cảnh báo." in none.text
