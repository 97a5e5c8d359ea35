"""Test databases are built by running the migrations, then seeded once with the Quảng Ninh
registry; each test runs inside a transaction that is rolled back, so tests see the seed and
never each other.

LIENTHONG_TEST_DB=sqlite (default) uses a file in a temporary folder; LIENTHONG_TEST_DB=postgresql
creates a throwaway database on LIENTHONG_TEST_PG_URL (default: the local server) and drops it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lienthong import migrations
from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role
from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.onestop import catalogue
from lienthong.registry import seed
from lienthong.runtime import Runtime, build_runtime
from tests.fixtures.smtp import SmtpServer

PROVINCE = "000.00.00.H49"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def backend() -> str:
    return os.environ.get("LIENTHONG_TEST_DB", "sqlite")


def create_database(tmp_dir: Path, label: str) -> tuple[str, object]:
    """A new empty database and a function that removes it."""
    if backend() == "sqlite":
        path = tmp_dir / f"{label}.db"
        return f"sqlite:///{path}", lambda: None
    admin_url = os.environ.get("LIENTHONG_TEST_PG_URL", PG_ADMIN_URL)
    name = f"lienthong_test_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def build_seeded_database(url: str) -> Engine:
    migrations.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine)) as session:
        seed.seed_registry(session)
        catalogue.seed_procedures(session)
    return engine


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = create_database(tmp_path_factory.mktemp("db"), "main")
    yield url
    drop()  # type: ignore[operator]


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_seeded_database(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Every session commits into a SAVEPOINT of the test's outer transaction.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture(scope="session")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node")


@pytest.fixture
def settings(database_url: str, node_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        log_json=False,
        blob_dir=node_dir / "blobs",
        key_dir=node_dir / "keys",
        # Each test gets its own counts (a fresh runtime per test); the shared stores have
        # their own tests in tests/kernel/test_ratelimit.py.
        rate_limit_url="memory://",
        sms_outbox=node_dir / f"sms-{secrets.token_hex(4)}.jsonl",
    )


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return build_runtime(settings)


@pytest.fixture
def client(
    settings: Settings, session_factory: sessionmaker[Session], runtime: Runtime
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, session_factory, runtime)) as test_client:
        yield test_client


def signed_in(
    client: TestClient, db: Session, *, username: str, role: Role, agency: str
) -> TestClient:
    user = accounts.create_user(
        db,
        username=username,
        full_name=username.title(),
        password="correct horse",
        grants=[(agency, role)],
    )
    token = accounts.open_session(db, user=user, hours=1)
    db.commit()
    client.cookies.set(SESSION_COOKIE, token)
    return client


@pytest.fixture
def admin_client(client: TestClient, db: Session) -> TestClient:
    return signed_in(client, db, username="it.admin", role=Role.ADMIN, agency=PROVINCE)


@pytest.fixture
def clerk_client(client: TestClient, db: Session) -> TestClient:
    return signed_in(client, db, username="clerk.one", role=Role.CLERK, agency=PROVINCE)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server process (aiosmtpd) writing what it receives to a maildir."""
    server = SmtpServer.start(tmp_path)
    yield server
    server.stop()
