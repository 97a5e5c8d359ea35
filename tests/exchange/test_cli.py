"""`lienthong doc send|inbox|show` and `lienthong log verify` against a database of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from lienthong.cli import app
from lienthong.db import make_engine
from lienthong.exchange.models import LogEntry

from ..conftest import build_seeded_database, create_database
from .conftest import HONG_GAI, PDF, SNV


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url, drop = create_database(tmp_path, "cli")
    build_seeded_database(url).dispose()
    for name, value in (
        ("DATABASE_URL", url),
        ("BLOB_DIR", str(tmp_path / "blobs")),
        ("KEY_DIR", str(tmp_path / "keys")),
        ("LOG_JSON", "false"),
    ):
        monkeypatch.setenv(f"LIENTHONG_{name}", value)
    yield url
    drop()  # type: ignore[operator]


def test_send_inbox_show_and_verify_the_log(node: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["org", "remote-signing", SNV]).exit_code == 0
    pdf = tmp_path / "to-trinh.pdf"
    pdf.write_bytes(PDF)
    sent = runner.invoke(
        app,
        ["doc", "send", str(pdf), "--from", SNV, "--to", HONG_GAI, "--subject", "Thử dòng lệnh"],
    )
    assert sent.exit_code == 0, sent.output
    answer = json.loads(sent.stdout)
    assert answer["recipients"][0]["result"] == "accepted"
    shown = json.loads(runner.invoke(app, ["doc", "show", str(answer["id"])]).stdout)
    assert shown["signature"] == "verified"
    assert shown["recipients"][0]["state"] == "delivered"  # in the inbox at once; 01 follows
    assert "Thử dòng lệnh" in runner.invoke(app, ["doc", "inbox", HONG_GAI]).stdout
    assert runner.invoke(app, ["log", "checkpoint"]).exit_code == 0
    verified = runner.invoke(app, ["log", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "chain intact" in verified.stdout
    engine = make_engine(node)
    with engine.begin() as conn:
        conn.execute(update(LogEntry).values(sender_code="000.00.03.H49"))
    engine.dispose()
    broken = runner.invoke(app, ["log", "verify"])
    assert broken.exit_code == 1
    assert "chain broken at entry" in broken.stdout


def test_send_to_nobody_valid_fails_with_the_reason(node: str, tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["org", "remote-signing", SNV])
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(PDF)
    result = runner.invoke(app, ["doc", "send", str(pdf), "--from", SNV, "--to", "000.00.30.H49"])
    assert result.exit_code == 2
    assert "recipient_dissolved" in result.output


def test_send_signed_and_read_the_registers(node: str, tmp_path: Path) -> None:
    from tests.exchange.test_pdfsign import real_pdf

    runner = CliRunner()
    assert runner.invoke(app, ["org", "remote-signing", SNV]).exit_code == 0
    pdf = tmp_path / "quyet-dinh.pdf"
    pdf.write_bytes(real_pdf())
    sent = runner.invoke(
        app,
        [
            "doc",
            "send",
            str(pdf),
            "--from",
            SNV,
            "--to",
            HONG_GAI,
            "--type",
            "Quyết định",
            "--sign",
            "--signer",
            "Phạm Văn Minh",
            "--title",
            "Giám đốc",
        ],
    )
    assert sent.exit_code == 0, sent.output
    csv_path, pdf_path = tmp_path / "so-den.csv", tmp_path / "so-den.pdf"
    shown = runner.invoke(
        app,
        [
            "doc",
            "register",
            HONG_GAI,
            "--book",
            "incoming",
            "--csv",
            str(csv_path),
            "--pdf",
            str(pdf_path),
        ],
    )
    assert shown.exit_code == 0, shown.output
    assert "green" in shown.stdout.replace("\n", "")
    rows = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert "01/QĐ-SNV" in rows[1]
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    refused = runner.invoke(app, ["doc", "register", HONG_GAI, "--book", "sideways"])
    assert refused.exit_code == 2
