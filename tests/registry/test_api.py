"""The registry API as agency software and the node's IT staff use it."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import job_handlers
from lienthong.kernel import jobs
from lienthong.kernel.clock import local_today
from lienthong.registry.models import Agency, AgencyEvent
from lienthong.runtime import Runtime

PROVINCE = "000.00.00.H49"
NEW_DEPT = {"code": "000.00.29.H49", "name": "Sở Thử nghiệm", "kind": "department"}


def error_code(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["code"]


# ---- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ha long", "Phường Hạ Long"),
        ("hong gai", "Phường Hồng Gai"),
        ("HỒNG GAI", "Phường Hồng Gai"),
        ("Hạ  Long", "Phường Hạ Long"),
        ("dac khu van don", "Đặc khu Vân Đồn"),
    ],
)
def test_search_is_accent_insensitive(client: TestClient, q: str, expected: str) -> None:
    page = client.get("/api/v1/organizations", params={"q": q, "status": "active"}).json()
    assert expected in [i["short_name"] for i in page["items"]]


def test_phrase_search_does_not_match_scattered_words(client: TestClient) -> None:
    page = client.get("/api/v1/organizations", params={"q": "ha long", "status": "active"}).json()
    assert "Phường Hà Lầm" not in [i["short_name"] for i in page["items"]]


def test_search_wildcards_are_literal(client: TestClient) -> None:
    page = client.get("/api/v1/organizations", params={"q": "%"}).json()
    assert page["total"] == 0


def test_pagination_covers_every_item_once(client: TestClient) -> None:
    seen: list[str] = []
    first = client.get("/api/v1/organizations", params={"parent": PROVINCE, "page_size": 20}).json()
    total = first["total"]
    for page in range(1, total // 20 + 2):
        body = client.get(
            "/api/v1/organizations", params={"parent": PROVINCE, "page_size": 20, "page": page}
        ).json()
        seen += [i["code"] for i in body["items"]]
    assert len(seen) == total == len(set(seen))


def test_page_size_is_bounded(client: TestClient) -> None:
    response = client.get("/api/v1/organizations", params={"page_size": 1000})
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert "page_size" in response.json()["error"]["message"]


def test_filter_by_level(client: TestClient) -> None:
    body = client.get("/api/v1/organizations", params={"level": 3, "page_size": 5}).json()
    assert body["total"] > 100
    assert {i["level"] for i in body["items"]} == {3}


def test_unknown_and_malformed_codes(client: TestClient) -> None:
    missing = client.get("/api/v1/organizations/000.00.99.H49")
    assert missing.status_code == 404
    assert error_code(missing) == "unknown_agency"
    malformed = client.get("/api/v1/organizations/000.00.1A.H49")
    assert malformed.status_code == 422
    assert error_code(malformed) == "invalid_agency_code"
    assert malformed.json()["error"]["details"]["part"] == "level2"


def test_children_and_tree(client: TestClient) -> None:
    children = client.get(
        f"/api/v1/organizations/{PROVINCE}/children", params={"status": "active"}
    ).json()
    assert children["total"] == 71  # 17 provincial bodies + 54 commune-level units
    tree = client.get(f"/api/v1/organizations/{PROVINCE}/tree", params={"depth": 1}).json()
    assert tree["children_total"] == 71
    assert len(tree["children"]) == 71
    with_former = client.get(
        f"/api/v1/organizations/{PROVINCE}/tree", params={"depth": 2, "include_inactive": True}
    ).json()
    hl = next(c for c in with_former["children"] if c["short_name"] == "Thành phố Hạ Long")
    assert hl["status"] == "dissolved"
    assert hl["children_total"] == len(hl["children"]) > 20


def test_messages_follow_the_language(client: TestClient) -> None:
    vi = client.get("/api/v1/organizations/000.00.99.H49").json()["error"]["message"]
    en = client.get("/api/v1/organizations/000.00.99.H49", headers={"Accept-Language": "en"}).json()
    assert "Không có cơ quan" in vi
    assert "No agency" in en["error"]["message"]


# ---- who may change it -------------------------------------------------------------------


def test_create_needs_sign_in(client: TestClient) -> None:
    response = client.post("/api/v1/organizations", json=NEW_DEPT)
    assert response.status_code == 401
    assert error_code(response) == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_create_needs_the_admin_role(clerk_client: TestClient) -> None:
    response = clerk_client.post("/api/v1/organizations", json=NEW_DEPT)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def test_admin_creates_an_agency_with_its_implied_parent(admin_client: TestClient) -> None:
    response = admin_client.post("/api/v1/organizations", json=NEW_DEPT)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["parent_code"] == PROVINCE
    assert body["level"] == 2
    found = admin_client.get("/api/v1/organizations", params={"q": "so thu nghiem"}).json()
    assert [i["code"] for i in found["items"]] == ["000.00.29.H49"]
    history = admin_client.get("/api/v1/organizations/000.00.29.H49/history").json()
    assert history["items"][0]["action"] == "created"
    assert history["items"][0]["actor"] == "It.Admin"


def test_duplicate_code_is_a_conflict(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/api/v1/organizations", json={**NEW_DEPT, "code": "000.00.01.H49"}
    )
    assert response.status_code == 409
    assert error_code(response) == "duplicate_agency_code"


def test_invalid_code_on_create(admin_client: TestClient) -> None:
    response = admin_client.post("/api/v1/organizations", json={**NEW_DEPT, "code": "000.00.2.H49"})
    assert response.status_code == 422
    assert error_code(response) == "invalid_agency_code"
    assert "Y1Y2" in response.json()["error"]["message"]


def test_unknown_parent_and_unknown_kind(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/api/v1/organizations", json={**NEW_DEPT, "parent_code": "000.00.98.H49"}
    )
    assert (response.status_code, error_code(response)) == (422, "unknown_parent")
    response = admin_client.post("/api/v1/organizations", json={**NEW_DEPT, "kind": "castle"})
    assert (response.status_code, error_code(response)) == (422, "invalid_request")


def test_malformed_json_is_a_4xx(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/api/v1/organizations", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"


def test_parent_cycle_is_refused(admin_client: TestClient) -> None:
    admin_client.post("/api/v1/organizations", json=NEW_DEPT)
    child = {"code": "000.01.29.H49", "name": "Phòng Thử", "kind": "other"}
    assert admin_client.post("/api/v1/organizations", json=child).status_code == 201
    response = admin_client.patch(
        "/api/v1/organizations/000.00.29.H49", json={"parent_code": "000.01.29.H49"}
    )
    assert (response.status_code, error_code(response)) == (422, "parent_cycle")
    self_parent = admin_client.patch(
        "/api/v1/organizations/000.00.29.H49", json={"parent_code": "000.00.29.H49"}
    )
    assert error_code(self_parent) == "parent_cycle"


def test_update_records_history_and_refreshes_search(admin_client: TestClient) -> None:
    response = admin_client.patch(
        "/api/v1/organizations/000.00.02.H49",
        json={"short_name": "SNV Quảng Ninh", "email": "snv@example.vn"},
    )
    assert response.status_code == 200
    assert response.json()["email"] == "snv@example.vn"
    assert (
        admin_client.get("/api/v1/organizations", params={"q": "snv quang ninh"}).json()["total"]
        == 1
    )
    event = admin_client.get("/api/v1/organizations/000.00.02.H49/history").json()["items"][0]
    assert event["action"] == "updated"
    assert event["changes"]["email"] == [None, "snv@example.vn"]


# ---- merging ------------------------------------------------------------------------------


def _two_departments(client: TestClient) -> None:
    for code, name in (("000.00.28.H49", "Sở A"), ("000.00.27.H49", "Sở B")):
        assert (
            client.post(
                "/api/v1/organizations", json={"code": code, "name": name, "kind": "department"}
            ).status_code
            == 201
        )
    assert (
        client.post(
            "/api/v1/organizations",
            json={"code": "000.01.28.H49", "name": "Chi cục của A", "kind": "other"},
        ).status_code
        == 201
    )


def test_merge_several_into_one(admin_client: TestClient) -> None:
    _two_departments(admin_client)
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={
            "source_codes": ["000.00.28.H49", "000.00.02.H49"],
            "successor_code": "000.00.27.H49",
        },
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["predecessor_codes"]) == ["000.00.02.H49", "000.00.28.H49"]
    merged = admin_client.get("/api/v1/organizations/000.00.28.H49").json()
    assert merged["status"] == "merged"
    assert merged["successor_codes"] == ["000.00.27.H49"]
    # The sub-unit now reports to the successor.
    assert (
        admin_client.get("/api/v1/organizations/000.01.28.H49").json()["parent_code"]
        == "000.00.27.H49"
    )


def test_merge_into_a_dissolved_agency_is_refused(admin_client: TestClient) -> None:
    _two_departments(admin_client)
    former_district = "000.00.30.H49"
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={"source_codes": ["000.00.28.H49"], "successor_code": former_district},
    )
    assert (response.status_code, error_code(response)) == (422, "successor_inactive")
    # Nothing changed.
    assert admin_client.get("/api/v1/organizations/000.00.28.H49").json()["status"] == "active"


def test_merge_into_an_unknown_successor_is_refused(admin_client: TestClient) -> None:
    _two_departments(admin_client)
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={"source_codes": ["000.00.28.H49"], "successor_code": "000.00.26.H49"},
    )
    assert (response.status_code, error_code(response)) == (422, "unknown_successor")


def test_merge_of_an_already_merged_agency_is_refused(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={"source_codes": ["000.00.30.H49"], "successor_code": PROVINCE},
    )
    assert (response.status_code, error_code(response)) == (422, "agency_inactive")


def test_merge_decided_ahead_applies_on_its_day(
    admin_client: TestClient, session_factory: sessionmaker[Session], db: Session, runtime: Runtime
) -> None:
    _two_departments(admin_client)
    when = local_today() + timedelta(days=30)
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={
            "source_codes": ["000.00.28.H49"],
            "successor_code": "000.00.27.H49",
            "effective_on": when.isoformat(),
        },
    )
    assert response.status_code == 200
    source = admin_client.get("/api/v1/organizations/000.00.28.H49").json()
    assert source["status"] == "active"
    assert source["successor_codes"] == ["000.00.27.H49"]
    worker = jobs.Worker(factory=session_factory, handlers=job_handlers(runtime))
    assert worker.run_once() is None  # not due yet
    job = db.scalars(select(jobs.Job).where(jobs.Job.kind == "registry.apply_retirement")).one()
    job.run_after = job.created_at
    db.commit()
    assert worker.run_once().status == jobs.DONE
    after = admin_client.get("/api/v1/organizations/000.00.28.H49").json()
    assert after["status"] == "merged"
    assert after["status_effective_on"] == when.isoformat()
    assert worker.run_once() is None


def test_dissolve_with_several_successors(admin_client: TestClient) -> None:
    _two_departments(admin_client)
    response = admin_client.post(
        "/api/v1/organizations/000.00.28.H49/dissolve",
        json={"successor_codes": ["000.00.27.H49", "000.00.02.H49"], "effective_on": "2025-07-01"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "dissolved"
    assert response.json()["successor_codes"] == ["000.00.02.H49", "000.00.27.H49"]
    # With several successors the sub-unit keeps its parent: no one heir to move it to.
    assert (
        admin_client.get("/api/v1/organizations/000.01.28.H49").json()["parent_code"]
        == "000.00.28.H49"
    )


def test_failed_merge_leaves_no_trace(admin_client: TestClient, db: Session) -> None:
    _two_departments(admin_client)
    events_before = db.scalar(select(func.count()).select_from(AgencyEvent))
    response = admin_client.post(
        "/api/v1/organizations/merge",
        json={
            "source_codes": ["000.00.28.H49", "000.00.99.H49"],
            "successor_code": "000.00.27.H49",
        },
    )
    assert response.status_code == 404
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AgencyEvent)) == events_before
    assert db.scalars(select(Agency).where(Agency.code == "000.00.28.H49")).one().status == "active"


def test_a_patch_cannot_empty_a_required_field(admin_client: TestClient) -> None:
    """Found by fuzzing the OpenAPI: null for kind or illustrative was a 500."""
    for field in ("kind", "illustrative", "name", "serving_node"):
        answer = admin_client.patch("/api/v1/organizations/000.00.84.H49", json={field: None})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["error"]["code"] == "invalid_request"


def test_a_unit_cannot_succeed_itself_nor_sit_under_a_dissolved_parent(
    admin_client: TestClient,
) -> None:
    _two_departments(admin_client)
    itself = admin_client.post(
        "/api/v1/organizations/merge",
        json={"source_codes": ["000.00.28.H49"], "successor_code": "000.00.28.H49"},
    )
    assert (itself.status_code, error_code(itself)) == (422, "successor_is_source")
    under_dissolved = admin_client.patch(
        "/api/v1/organizations/000.00.28.H49", json={"parent_code": "000.00.30.H49"}
    )
    assert (under_dissolved.status_code, error_code(under_dissolved)) == (422, "parent_inactive")
