"""Guessing passwords and software credentials is throttled per account and per client
address, in a store every API process shares; the lockout expires by itself."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lienthong.accounts import service
from lienthong.accounts.models import Role
from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.runtime import Runtime, build_runtime
from tests.accounts.test_signin import HONG_GAI, csrf_from
from tests.fixtures.smtp import wait_for

PASSWORD = "mật khẩu dài"


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Mapping[str, Any]) -> None:
        self.events.append(dict(event))


def _person(db: Session, username: str = "vanthu") -> None:
    service.create_user(
        db,
        username=username,
        full_name="Văn Thư",
        password=PASSWORD,
        grants=[(HONG_GAI, Role.CLERK)],
    )
    db.commit()


@pytest.fixture
def node(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[tuple[TestClient, Runtime, Recorder]]:
    recorder = Recorder()
    runtime = dataclasses.replace(
        build_runtime(
            settings.model_copy(
                update={
                    "signin_account_limit": "10/15 minutes",
                    "signin_address_limit": "30/15 minutes",
                }
            )
        ),
        events=recorder,
    )
    with TestClient(create_app(runtime.settings, session_factory, runtime)) as client:
        yield client, runtime, recorder


def _try(client: TestClient, username: str, password: str, **headers: str) -> int:
    client.cookies.clear()  # a fresh visitor each time (a success leaves a session cookie)
    token = csrf_from(client.get("/signin").text)
    answer = client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        headers=headers,
        follow_redirects=False,
    )
    return answer.status_code


def test_fifty_wrong_passwords_lock_the_account_even_for_the_right_one(
    node: tuple[TestClient, Runtime, Recorder], db: Session
) -> None:
    client, _, recorder = node
    _person(db)
    codes = [_try(client, "vanthu", f"sai-{i}") for i in range(50)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429] * 40
    token = csrf_from(client.get("/signin").text)
    right = client.post(
        "/signin",
        data={"username": "vanthu", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert right.status_code == 429
    assert 0 < int(right.headers["Retry-After"]) <= 15 * 60
    assert "thử lại sau" in right.text
    assert "lt_session" not in right.cookies
    failures = [e for e in recorder.events if e["event.action"] == "signin"]
    assert len(failures) == 51
    assert {e["event.outcome"] for e in failures} == {"failure"}
    assert failures[0]["event.reason"] == "bad_credentials"
    assert failures[-1]["event.reason"] == "signin_throttled"
    assert failures[0]["user.name"] == "vanthu"
    assert failures[0]["source.ip"] == "testclient"


def test_lockout_expires_and_a_success_clears_the_count(
    settings: Settings, session_factory: sessionmaker[Session], db: Session
) -> None:
    _person(db)
    # A window long enough for four attempts on a loaded machine, short enough to wait out.
    runtime = build_runtime(settings.model_copy(update={"signin_account_limit": "3/15 seconds"}))
    with TestClient(create_app(runtime.settings, session_factory, runtime)) as client:
        assert [_try(client, "vanthu", "sai") for _ in range(4)] == [401, 401, 401, 429]
        # The window lets the account through again by itself.
        wait_for(
            lambda: _try(client, "vanthu", PASSWORD) == 303,
            timeout=90,
            interval=1,
            what="the lockout to expire",
        )
        assert [_try(client, "vanthu", "sai") for _ in range(3)] == [401, 401, 401]


def test_guessing_many_accounts_from_one_address_is_throttled(
    node: tuple[TestClient, Runtime, Recorder], db: Session
) -> None:
    client, _, _ = node
    _person(db, "nguoi.that")
    codes = [_try(client, f"khong.co.{i}", "sai") for i in range(30)]
    assert set(codes) == {401}
    # A few more: the sliding window weighs the previous window's hits by the share of it
    # still inside, so right after a window boundary 30 can count as 29.7.
    for i in range(3):
        _try(client, f"nua.{i}", "sai")
    assert _try(client, "nguoi.that", PASSWORD) == 429  # the address is locked, not the account
    other = TestClient(client.app, client=("203.0.113.9", 40000))
    assert _try(other, "nguoi.that", PASSWORD) == 303


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    settings: Settings, session_factory: sessionmaker[Session], db: Session
) -> None:
    _person(db, "nguoi.that")
    limits = {"signin_address_limit": "5/15 minutes", "signin_account_limit": "100/15 minutes"}
    # Untrusted peer: a made-up X-Forwarded-For changes nothing, the peer is counted.
    runtime = build_runtime(settings.model_copy(update=limits))
    app = create_app(runtime.settings, session_factory, runtime)
    attacker = TestClient(app, client=("198.51.100.7", 40000))
    codes = [_try(attacker, f"u{i}", "sai", **{"X-Forwarded-For": f"10.9.9.{i}"}) for i in range(6)]
    assert codes == [401] * 5 + [429]
    # Behind the province's proxy, each client behind it has its own count.
    proxied = build_runtime(
        settings.model_copy(update={**limits, "trusted_proxies": ["10.0.0.0/8"]})
    )
    app = create_app(proxied.settings, session_factory, proxied)
    proxy = TestClient(app, client=("10.1.2.3", 40000))
    for i in range(5):
        assert _try(proxy, f"u{i}", "sai", **{"X-Forwarded-For": "198.51.100.7"}) == 401
    assert _try(proxy, "u9", "sai", **{"X-Forwarded-For": "198.51.100.7"}) == 429
    # The right-most untrusted entry is the client; what the client wrote to its left is not.
    assert (
        _try(proxy, "nguoi.that", PASSWORD, **{"X-Forwarded-For": "198.51.100.7, 192.0.2.44"})
        == 303
    )


def test_wrong_software_credentials_are_throttled(
    settings: Settings, session_factory: sessionmaker[Session], db: Session
) -> None:
    system_id, secret = service.issue_credential(db, agency_code=HONG_GAI)
    db.commit()
    runtime = build_runtime(settings.model_copy(update={"basic_failure_limit": "5/15 minutes"}))
    with TestClient(create_app(runtime.settings, session_factory, runtime)) as client:

        def call(secret_: str) -> Any:
            token = base64.b64encode(f"{system_id}:{secret_}".encode()).decode()
            return client.get("/api/v1/me", headers={"Authorization": f"Basic {token}"})

        assert [call("sai").status_code for _ in range(5)] == [401] * 5
        locked = call(secret)
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "signin_throttled"
        assert int(locked.headers["Retry-After"]) > 0


def test_two_api_processes_share_the_counts(
    settings: Settings, session_factory: sessionmaker[Session], db: Session
) -> None:
    """Two apps, each with its own limiter over the node's database store, as two `serve`
    processes: failures at either count towards the same lockout."""
    _person(db)
    shared = settings.model_copy(
        update={"rate_limit_url": "", "signin_account_limit": "6/15 minutes"}
    )
    one, two = build_runtime(shared), build_runtime(shared)
    first = TestClient(create_app(shared, session_factory, one), client=("192.0.2.1", 1))
    second = TestClient(create_app(shared, session_factory, two), client=("192.0.2.2", 1))
    username = "vanthu"
    try:
        codes = [_try(first if i % 2 else second, username, "sai") for i in range(7)]
        assert codes == [401] * 6 + [429]
        assert _try(first, username, PASSWORD) == 429
    finally:
        from lienthong.accounts.throttle import signin_rules

        one.limiter.clear(signin_rules(shared).account, username)
        for address in ("192.0.2.1", "192.0.2.2"):
            one.limiter.clear(signin_rules(shared).address, address)
