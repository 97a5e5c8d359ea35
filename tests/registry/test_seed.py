"""What the Quảng Ninh node ships with, as a user of the directory would check it."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.registry import seed
from lienthong.registry.models import Agency

PROVINCE = "000.00.00.H49"


def test_province_is_served(client: TestClient) -> None:
    body = client.get(f"/api/v1/organizations/{PROVINCE}").json()
    assert body["name"] == "Ủy ban nhân dân tỉnh Quảng Ninh"
    assert body["level"] == 1
    assert body["status"] == "active"
    assert body["illustrative"] is False


def test_54_commune_level_units_report_to_the_province(client: TestClient) -> None:
    items = []
    for kind in ("commune", "ward", "special_zone"):
        page = client.get(
            "/api/v1/organizations",
            params={"parent": PROVINCE, "status": "active", "kind": kind, "page_size": 200},
        ).json()
        assert page["total"] == len(page["items"])
        items += page["items"]
    by_kind = {
        k: sum(1 for i in items if i["kind"] == k) for k in ("commune", "ward", "special_zone")
    }
    assert by_kind == {"commune": 22, "ward": 30, "special_zone": 2}
    assert {i["admin_code"] for i in items} >= {"06685", "06967", "06994"}
    assert all(i["parent_code"] == PROVINCE for i in items)
    assert len({i["code"] for i in items}) == 54


def test_former_commune_is_dissolved_with_its_successor(client: TestClient) -> None:
    page = client.get(
        "/api/v1/organizations", params={"q": "bach dang", "status": "dissolved"}
    ).json()
    former = next(i for i in page["items"] if i["short_name"] == "Phường Bạch Đằng")
    assert former["status_effective_on"] == "2025-07-01"
    assert len(former["successor_codes"]) == 1
    successor = client.get(f"/api/v1/organizations/{former['successor_codes'][0]}").json()
    assert successor["short_name"] == "Phường Hồng Gai"
    assert former["code"] in successor["predecessor_codes"]


def test_a_split_commune_has_several_successors(client: TestClient) -> None:
    page = client.get(
        "/api/v1/organizations", params={"q": "xa hai lang", "status": "dissolved"}
    ).json()
    former = next(i for i in page["items"] if i["short_name"] == "Xã Hải Lạng")
    names = sorted(
        client.get(f"/api/v1/organizations/{c}").json()["short_name"]
        for c in former["successor_codes"]
    )
    # NQ 1679 khoản 3, 7 and 10 each take a part of xã Hải Lạng.
    assert names == ["Xã Ba Chẽ", "Xã Hải Hòa", "Xã Hải Lạng"]


def test_thirteen_former_districts_dissolved(client: TestClient) -> None:
    page = client.get(
        "/api/v1/organizations", params={"parent": PROVINCE, "kind": "district", "page_size": 50}
    ).json()
    assert page["total"] == 13
    assert {i["status"] for i in page["items"]} == {"dissolved"}
    assert all(i["successor_codes"] for i in page["items"])


def test_cai_chien_was_not_rearranged(client: TestClient) -> None:
    page = client.get("/api/v1/organizations", params={"q": "cai chien"}).json()
    assert page["total"] == 1
    assert page["items"][0]["status"] == "active"
    assert page["items"][0]["predecessor_codes"] == []


def test_level1_directory_has_ministries_and_merged_provinces(client: TestClient) -> None:
    vpcp = client.get("/api/v1/organizations/000.00.00.G22").json()
    assert vpcp["kind"] == "ministry"
    assert vpcp["serving_node"] == "VN"
    provinces = client.get(
        "/api/v1/organizations", params={"kind": "provincial_committee", "page_size": 200}
    ).json()["items"]
    active = [p for p in provinces if p["status"] == "active"]
    merged = [p for p in provinces if p["status"] == "merged"]
    assert len(active) == 34  # NQ 202/2025/QH15, Quảng Ninh included
    assert len(merged) == 29
    assert all(len(p["successor_codes"]) == 1 for p in merged)


def test_seeding_twice_changes_nothing(db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(Agency))
    result = seed.seed_registry(db)
    assert result.created == 0
    assert result.updated == 0
    assert result.unchanged == result.rows
    assert db.scalar(select(func.count()).select_from(Agency)) == before


def test_every_seeded_code_but_the_province_is_flagged_when_not_public(db: Session) -> None:
    h49 = db.scalars(select(Agency).where(Agency.code.like("%.H49"))).all()
    assert [a.code for a in h49 if not a.illustrative] == [PROVINCE]


def test_the_54_units_agree_with_vietnam_provinces(db: Session) -> None:
    """The shipped Quảng Ninh units equal, name for name and code for code, the maintained
    list of the 3,321 commune-level units in force since 01/07/2025."""
    from vietnam_provinces import ProvinceCode, Ward

    maintained = {f"{int(w.code):05d}": w.name for w in Ward.iter_by_province(ProvinceCode(22))}
    shipped = {
        a.admin_code: a.short_name
        for a in db.scalars(
            select(Agency).where(
                Agency.status == "active",
                Agency.kind.in_(("commune", "ward", "special_zone")),
                Agency.code.like("%.H49"),
            )
        )
    }
    assert len(maintained) == 54
    assert shipped == maintained


def test_the_34_provinces_come_from_vietnam_provinces(db: Session) -> None:
    from vietnam_provinces import Province

    expected = {seed.province_committee_name(int(p.code)) for p in Province.iter_all()}
    committees = db.scalars(
        select(Agency.name).where(Agency.kind == "provincial_committee", Agency.status == "active")
    ).all()
    assert len(expected) == 34
    # Quảng Ninh's own committee is seeded with its full official name.
    assert set(committees) - {"Ủy ban nhân dân tỉnh Quảng Ninh"} == expected - {
        "UBND tỉnh Quảng Ninh"
    }
    assert "UBND thành phố Hồ Chí Minh" in committees
