"""The shared-data API end to end: catalogue, a request approved by the owner, the consumer
system's call through the gateway, the sharing log, and the citizen's own view."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role, User
from lienthong.datashare import seed, sharelog
from lienthong.datashare.models import ShareCall
from lienthong.kernel.clock import utcnow
from tests.datashare.conftest import CONSUMER, System, make_system


def person(
    client: TestClient, db: Session, username: str, grants: list[tuple[str, Role]]
) -> TestClient:
    user = accounts.create_user(
        db, username=username, full_name=username, password="long enough", grants=grants
    )
    token = accounts.open_session(db, user=user, hours=1)
    db.commit()
    other = TestClient(client.app)
    other.cookies.set(SESSION_COOKIE, token)
    return other


def basic(system: System) -> dict[str, str]:
    raw = f"{system.system_id}:{system.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_catalogue_public_sees_open_items_only(
    client: TestClient, db: Session, datasets: None
) -> None:
    public = client.get("/api/v1/data/datasets", params={"q": "đăng ký khai sinh"}).json()
    [birth] = public["items"]
    assert birth["code"] == "khai-sinh"
    assert birth["items"] == []  # no open item in birth records
    assert birth["illustrative"] is True
    clerk = person(client, db, "vanthu.x", [(CONSUMER, Role.CLERK)])
    [seen] = clerk.get("/api/v1/data/datasets", params={"q": "đăng ký khai sinh"}).json()["items"]
    assert "ho_ten_me" in [i["name"] for i in seen["items"]]
    enterprise = client.get("/api/v1/data/datasets/doanh-nghiep").json()
    assert {i["class"] for i in enterprise["items"]} == {"open"}
    spec = client.get("/api/v1/data/datasets/doanh-nghiep/services/tra-cuu/openapi.json").json()
    props = spec["paths"]["/api/v1/data/doanh-nghiep/tra-cuu"]["get"]["responses"]["200"][
        "content"
    ]["application/json"]["schema"]["properties"]["records"]["items"]["properties"]
    assert "nguoi_dai_dien" not in props
    assert "ten" in props
    assert client.get("/api/v1/data/datasets/khong-co").json()["error"]["code"] == "unknown_dataset"
    paged = client.get("/api/v1/data/datasets", params={"page_size": 2, "page": 2}).json()
    assert paged["total"] == 9
    assert len(paged["items"]) == 2


def test_request_approval_call_and_who_used_my_data(
    client: TestClient, db: Session, datasets: None
) -> None:
    system = make_system(db, CONSUMER)
    db.commit()
    officer = person(client, db, "canbo.x", [(CONSUMER, Role.OFFICER)])
    now = utcnow()
    body = {
        "dataset": "khai-sinh",
        "service": "tra-cuu",
        "consumer_system": system.system_id,
        "items": ["so_dinh_danh", "ho_ten", "ngay_sinh", "ho_ten_me"],
        "purpose": "Cấp bản sao trích lục khai sinh",
        "legal_basis": "Nghị định 47/2020/NĐ-CP",
        "frequency": "Theo hồ sơ",
        "period_from": now.isoformat(),
        "period_to": (now + timedelta(days=90)).isoformat(),
    }
    incomplete = officer.post("/api/v1/data/requests", json={**body, "purpose": " "})
    assert incomplete.status_code == 422
    assert incomplete.json()["error"]["code"] == "incomplete_access_request"
    created = officer.post("/api/v1/data/requests", json=body)
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["state"] == "pending"
    assert request["owner_agency"] == seed.JUSTICE

    # Before approval the system is refused, and the refusal is in the log.
    before = client.get(
        "/api/v1/data/khai-sinh/tra-cuu",
        params={"key": seed.DEMO_SUBJECT},
        headers={**basic(system), "Lienthong-Purpose": "x"},
    )
    assert before.status_code == 403
    assert before.json()["error"]["code"] == "no_grant"
    assert before.headers["Lienthong-Request-Id"]
    logged = db.scalars(
        select(ShareCall).where(ShareCall.request_id == before.headers["Lienthong-Request-Id"])
    ).one()
    assert logged.outcome == "no_grant"

    other_admin = person(client, db, "quantri.x", [(CONSUMER, Role.ADMIN)])
    wrong = other_admin.post(f"/api/v1/data/requests/{request['id']}/approve", json={})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "not_data_owner"
    owner = person(client, db, "quantri.stp", [(seed.JUSTICE, Role.ADMIN)])
    queue = owner.get("/api/v1/data/requests", params={"side": "owner", "state": "pending"}).json()
    assert [r["id"] for r in queue["items"]] == [request["id"]]
    approved = owner.post(
        f"/api/v1/data/requests/{request['id']}/approve",
        json={"items": ["so_dinh_danh", "ho_ten", "ngay_sinh"]},
    )
    assert approved.status_code == 200, approved.text
    grant = approved.json()
    assert grant["items"] == ["so_dinh_danh", "ho_ten", "ngay_sinh"]

    answer = client.get(
        "/api/v1/data/khai-sinh/tra-cuu",
        params={"key": seed.DEMO_SUBJECT},
        headers={
            **basic(system),
            "Lienthong-Purpose": "000.00.16.H49-261203-0007",
            "Lienthong-Request-Id": "req-1",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Lienthong-Request-Id"] == "req-1"
    assert len(answer.headers["Lienthong-Request-Hash"]) == 64
    assert answer.json()["records"] == [
        {"so_dinh_danh": seed.DEMO_SUBJECT, "ho_ten": "Nguyễn Văn An", "ngay_sinh": "1990-05-12"}
    ]
    narrowed = client.get(
        "/api/v1/data/khai-sinh/tra-cuu",
        params={"key": seed.DEMO_SUBJECT, "fields": "ho_ten_me"},
        headers={**basic(system), "Lienthong-Purpose": "x"},
    )
    assert narrowed.status_code == 403
    assert narrowed.json()["error"]["code"] == "item_not_granted"
    nopurpose = client.get(
        "/api/v1/data/khai-sinh/tra-cuu", params={"key": seed.DEMO_SUBJECT}, headers=basic(system)
    )
    assert nopurpose.status_code == 422
    assert nopurpose.json()["error"]["code"] == "purpose_required"
    assert (
        owner.post(f"/api/v1/data/grants/{grant['id']}/suspend", json={"reason": "Bảo trì"}).json()[
            "state"
        ]
        == "suspended"
    )
    suspended = client.get(
        "/api/v1/data/khai-sinh/tra-cuu",
        params={"key": seed.DEMO_SUBJECT},
        headers={**basic(system), "Lienthong-Purpose": "x"},
    )
    assert suspended.json()["error"]["code"] == "grant_suspended"
    people = person(client, db, "chitiet", [])
    assert (
        people.get("/api/v1/data/khai-sinh/tra-cuu", params={"key": "x"}).json()["error"]["code"]
        == "system_required"
    )

    # The owner sees who called what; the consumer its own calls; CSV too.
    owner_log = owner.get("/api/v1/data/log", params={"side": "owner"}).json()
    assert {c["outcome"] for c in owner_log["items"]} >= {
        "ok",
        "no_grant",
        "item_not_granted",
        "grant_suspended",
    }
    mine = officer.get("/api/v1/data/log", params={"side": "consumer", "outcome": "ok"}).json()
    assert [c["request_id"] for c in mine["items"]] == ["req-1"]
    assert mine["items"][0]["purpose"] == "000.00.16.H49-261203-0007"
    csv_text = officer.get("/api/v1/data/log.csv", params={"side": "consumer"}).text
    assert "req-1" in csv_text
    assert csv_text.lstrip("\ufeff").startswith("at,request_id")

    # The citizen sees the call; another person sees nothing of it.
    citizen = person(client, db, "congdan.x", [])
    other = person(client, db, "congdan.y", [])
    me = db.scalars(select(User).where(User.username == "congdan.x")).one()
    sharelog.link_subject(db, user_id=me.id, subject=seed.DEMO_SUBJECT, kind="person_id")
    db.commit()
    usage = citizen.get("/api/v1/me/data-usage").json()
    assert usage["subjects"] == [seed.DEMO_SUBJECT]
    [use] = usage["items"]
    assert use["agency"] == CONSUMER
    assert use["purpose"] == "000.00.16.H49-261203-0007"
    assert use["items"] == ["so_dinh_danh", "ho_ten", "ngay_sinh"]
    assert other.get("/api/v1/me/data-usage").json()["items"] == []
    page = citizen.get("/du-lieu-cua-toi")
    assert "Trung tâm Phục vụ hành chính công" in page.text
    assert "Trung tâm Phục vụ hành chính công" not in other.get("/du-lieu-cua-toi").text
    assert seed.DEMO_SUBJECT in citizen.get("/du-lieu-cua-toi.csv").text


def test_pages_render(client: TestClient, db: Session, datasets: None) -> None:
    assert "Đăng ký doanh nghiệp" in client.get("/du-lieu").text
    dataset = client.get("/du-lieu/bo/thua-dat").text
    assert "Dữ liệu mở" in dataset
    assert "Người sử dụng đất" not in dataset  # restricted: not shown to the public
    clerk = person(client, db, "vanthu.y", [(CONSUMER, Role.CLERK)])
    make_system(db, CONSUMER)
    db.commit()
    assert "request-form" in clerk.get("/du-lieu/bo/thua-dat").text
    assert clerk.get("/du-lieu/yeu-cau").status_code == 200
    assert clerk.get("/du-lieu/nhat-ky").status_code == 200
    assert client.get("/du-lieu-cua-toi", follow_redirects=False).status_code == 303


def test_gateway_header_and_caller_checks(client: TestClient, db: Session, datasets: None) -> None:
    system = make_system(db, CONSUMER)
    db.commit()
    mismatch = client.get(
        "/api/v1/data/khai-sinh/tra-cuu",
        params={"key": seed.DEMO_SUBJECT},
        headers={**basic(system), "Lienthong-Client": "someone-else"},
    )
    assert mismatch.status_code == 403
    assert mismatch.json()["error"]["code"] == "client_mismatch"
    software = client.get("/api/v1/me/data-usage", headers=basic(system))
    assert software.json()["error"]["code"] == "person_required"
    assert client.get("/api/v1/data/khai-sinh/tra-cuu").status_code == 401
