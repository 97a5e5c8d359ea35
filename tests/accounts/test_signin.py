"""People sign in with a password; agency software with its credentials."""

import base64
import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lienthong.accounts import service
from lienthong.accounts.models import Role
from lienthong.cli import app as cli_app

PROVINCE = "000.00.00.H49"
HONG_GAI = "000.00.84.H49"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def make_person(db: Session) -> None:
    service.create_user(
        db,
        username="VanThu",
        full_name="Văn Thư",
        password="mật khẩu dài",
        grants=[(HONG_GAI, Role.CLERK)],
    )
    db.commit()


def test_sign_in_and_out(client: TestClient, db: Session) -> None:
    make_person(db)
    page = client.get("/signin?next=/registry")
    token = csrf_from(page.text)
    response = client.post(
        "/signin",
        data={
            "username": "vanthu",
            "password": "mật khẩu dài",
            "csrf_token": token,
            "next": "/registry",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/registry"
    cookie = response.cookies.get("lt_session")
    assert cookie
    me = client.get("/api/v1/me").json()
    assert me["kind"] == "user"
    assert me["grants"] == [
        {"agency_code": HONG_GAI, "agency_name": "Phường Hồng Gai", "role": "clerk"}
    ]
    registry = client.get("/registry")
    signout_token = csrf_from(registry.text)
    out = client.post("/signout", data={"csrf_token": signout_token}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("lt_session", cookie)  # the old cookie no longer opens anything
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_says_so_without_saying_which(client: TestClient, db: Session) -> None:
    make_person(db)
    token = csrf_from(client.get("/signin").text)
    wrong = client.post(
        "/signin", data={"username": "vanthu", "password": "sai rồi", "csrf_token": token}
    )
    unknown = client.post(
        "/signin", data={"username": "nobody", "password": "sai rồi", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in wrong.text
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in unknown.text


def test_sign_in_without_csrf_token_is_refused(client: TestClient, db: Session) -> None:
    make_person(db)
    client.get("/signin")
    response = client.post("/signin", data={"username": "vanthu", "password": "mật khẩu dài"})
    assert response.status_code == 403
    assert "Biểu mẫu đã hết hạn" in response.text


def test_next_never_leaves_the_site(client: TestClient, db: Session) -> None:
    make_person(db)
    token = csrf_from(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={
            "username": "vanthu",
            "password": "mật khẩu dài",
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/documents"  # the clerk's own home, not evil's


def test_pages_send_strangers_to_sign_in(client: TestClient) -> None:
    response = client.get("/registry?q=ha+long", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/registry?q=ha+long"


def test_weak_password_and_duplicate_username(db: Session) -> None:
    import pytest

    from lienthong.kernel.errors import Conflict, Invalid

    with pytest.raises(Invalid) as weak:
        service.create_user(db, username="a", full_name="A", password="short", grants=[])
    assert weak.value.code == "weak_password"
    service.create_user(db, username="a", full_name="A", password="long enough", grants=[])
    with pytest.raises(Conflict):
        service.create_user(db, username="A", full_name="A", password="long enough", grants=[])


def basic(system_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{system_id}:{secret}".encode()).decode()}


def test_agency_software_uses_basic_auth(client: TestClient, db: Session) -> None:
    system_id, secret = service.issue_credential(db, agency_code=HONG_GAI)
    db.commit()
    me = client.get("/api/v1/me", headers=basic(system_id, secret))
    assert me.status_code == 200
    assert me.json()["system_id"] == system_id
    assert me.json()["grants"][0]["agency_code"] == HONG_GAI
    # Authenticated, but software is not the node's administrator.
    create = client.post(
        "/api/v1/organizations",
        headers=basic(system_id, secret),
        json={"code": "000.00.29.H49", "name": "X", "kind": "other"},
    )
    assert create.status_code == 403
    bad = client.get("/api/v1/me", headers=basic(system_id, "wrong"))
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthenticated"
    garbage = client.get("/api/v1/me", headers={"Authorization": "Basic !!!"})
    assert garbage.status_code == 401


def test_revoked_credentials_stop_working(client: TestClient, db: Session) -> None:
    system_id, secret = service.issue_credential(db, agency_code=HONG_GAI)
    service.revoke_credential(db, system_id=system_id)
    db.commit()
    assert client.get("/api/v1/me", headers=basic(system_id, secret)).status_code == 401


def test_no_credentials_for_a_dissolved_agency(db: Session) -> None:
    import pytest

    from lienthong.kernel.errors import Invalid

    with pytest.raises(Invalid) as caught:
        service.issue_credential(db, agency_code="000.00.30.H49")
    assert caught.value.code == "agency_inactive"


def test_cli_prints_credentials_as_json(engine: Engine, database_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli_app, ["org", "credentials", HONG_GAI])
    assert result.exit_code == 0, result.output
    issued = json.loads(result.stdout)
    assert set(issued) == {"system_id", "secret"}
    assert issued["system_id"].startswith(HONG_GAI)
    with Session(engine) as session:
        principal = service.credential_principal(
            session, system_id=issued["system_id"], secret=issued["secret"]
        )
        assert principal is not None
        service.revoke_credential(session, system_id=issued["system_id"])
        session.commit()
