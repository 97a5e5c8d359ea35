"""`lienthong data import|grant list|log|link` against a database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from lienthong.cli import app
from lienthong.config import Settings
from lienthong.datashare import cli as data_cli
from lienthong.datashare import seed
from lienthong.datashare.models import ShareCall
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.demo import seed_demo_accounts

from ..conftest import build_seeded_database, create_database


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url, drop = create_database(tmp_path, "datacli")
    engine = build_seeded_database(url)
    with unit_of_work(make_session_factory(engine)) as session:
        seed_demo_accounts(session)
        seed.seed_demo(session, settings=Settings(database_url=url))
    engine.dispose()
    for name, value in (
        ("DATABASE_URL", url),
        ("BLOB_DIR", str(tmp_path / "blobs")),
        ("KEY_DIR", str(tmp_path / "keys")),
        ("LOG_JSON", "false"),
    ):
        monkeypatch.setenv(f"LIENTHONG_{name}", value)
    monkeypatch.setattr(data_cli.console, "width", 250)  # tables unwrapped
    yield url
    drop()  # type: ignore[operator]


def test_import_grants_and_log(node: str, tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "dn.csv"
    good.write_text("ma_so_thue,ten\n0100233488,Công ty A\n", encoding="utf-8")
    done = runner.invoke(app, ["data", "import", "doanh-nghiep", str(good)])
    assert done.exit_code == 0, done.output
    assert "1 rows: 1 created" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("ma_so_thue,ten\n0100233487,Sai\n", encoding="utf-8")
    refused = runner.invoke(app, ["data", "import", "doanh-nghiep", str(bad)])
    assert refused.exit_code == 2
    assert "bad_rows" in refused.output
    assert "line 2" in refused.output
    grants = runner.invoke(app, ["data", "grant", "list"])
    assert grants.exit_code == 0, grants.output
    assert "2 grants" in grants.stdout
    assert "khai-sinh/tra-cuu" in grants.stdout
    logged = runner.invoke(
        app, ["data", "log", "--since", "2000-01-01", "--verify"], terminal_width=200
    )
    assert logged.exit_code == 0, logged.output
    assert "item_not_granted" in logged.stdout
    assert "every row matches" in logged.stdout
    engine = make_engine(node)
    with engine.begin() as conn:
        conn.execute(update(ShareCall).values(purpose="sửa"))
    engine.dispose()
    assert runner.invoke(app, ["data", "log", "--since", "2000-01-01", "--verify"]).exit_code == 1
    assert runner.invoke(app, ["data", "link", "congdan", "022090001235"]).exit_code == 0
    assert runner.invoke(app, ["data", "link", "congdan", "12"]).exit_code == 2
