"""CSV import and export: all or nothing, every bad row reported with its line."""

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lienthong.cli import app as cli_app
from lienthong.registry import transfer
from lienthong.registry.models import Agency, AgencyEvent

HEADER = "code,name,kind,parent_code,status,successor_codes,effective_on,short_name\n"


def counts(db: Session) -> tuple[int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Agency)) or 0,
        db.scalar(select(func.count()).select_from(AgencyEvent)) or 0,
    )


def test_import_creates_and_updates(admin_client: TestClient) -> None:
    body = HEADER + (
        "000.00.25.H49,Sở Mới,department,000.00.00.H49,,,,\n"
        "000.01.25.H49,Phòng của Sở Mới,other,000.00.25.H49,,,,\n"
        "000.00.02.H49,Sở Nội vụ tỉnh Quảng Ninh,department,000.00.00.H49,,,,Sở Nội vụ\n"
    )
    response = admin_client.post(
        "/api/v1/organizations/import", content=body.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 1, "unchanged": 0, "rows": 3}
    assert (
        admin_client.get("/api/v1/organizations/000.01.25.H49").json()["parent_code"]
        == "000.00.25.H49"
    )
    assert (
        admin_client.get("/api/v1/organizations/000.00.02.H49").json()["name"]
        == "Sở Nội vụ tỉnh Quảng Ninh"
    )


def test_child_before_parent_in_the_file(admin_client: TestClient) -> None:
    body = (
        HEADER
        + "000.01.25.H49,Phòng,other,000.00.25.H49,,,,\n000.00.25.H49,Sở Mới,department,,,,,\n"
    )
    response = admin_client.post("/api/v1/organizations/import", content=body.encode())
    assert response.status_code == 200, response.text


def test_bad_file_changes_nothing_and_lists_every_bad_row(
    admin_client: TestClient, db: Session
) -> None:
    before = counts(db)
    body = (
        HEADER
        + (
            "000.00.25.H49,Sở Mới,department,000.00.00.H49,,,,\n"  # line 2: fine
            "000.00.2X.H49,Sở Sai Mã,department,,,,,\n"  # line 3: bad code
            "000.00.24.H49,Sở Sai Loại,castle,,,,,\n"  # line 4: bad kind
            "000.00.23.H49,Sở Mồ Côi,department,000.00.97.H49,,,,\n"  # line 5: unknown parent
            "000.00.25.H49,Trùng mã,department,,,,,\n"  # line 6: duplicate in file
            "000.00.22.H49,Sở Giải Thể,department,,dissolved,000.00.99.H49,31/12/2025,\n"  # line 7: unknown successor
            "000.00.21.H49,,department,,active,,2025-13-01,\n"  # line 8: no name, bad date
        )
    )
    response = admin_client.post("/api/v1/organizations/import", content=body.encode())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "import_invalid"
    by_line = {(e["line"], e["column"]) for e in error["details"]["errors"]}
    assert by_line == {
        (3, "code"),
        (4, "kind"),
        (5, "parent_code"),
        (6, "code"),
        (7, "successor_codes"),
        (8, "name"),
        (8, "effective_on"),
    }
    assert counts(db) == before


def test_parent_cycle_inside_the_file_is_refused(admin_client: TestClient) -> None:
    body = (
        HEADER
        + "000.00.25.H49,A,department,000.00.24.H49,,,,\n000.00.24.H49,B,department,000.00.25.H49,,,,\n"
    )
    response = admin_client.post("/api/v1/organizations/import", content=body.encode())
    assert response.status_code == 422
    assert {e["column"] for e in response.json()["error"]["details"]["errors"]} == {"parent_code"}


def test_unknown_column_is_named(admin_client: TestClient) -> None:
    response = admin_client.post("/api/v1/organizations/import", content=b"code,name,kind,colour\n")
    assert response.status_code == 422
    assert "colour" in response.json()["error"]["message"]


def test_import_needs_admin(clerk_client: TestClient) -> None:
    assert (
        clerk_client.post("/api/v1/organizations/import", content=HEADER.encode()).status_code
        == 403
    )


def test_oversize_import_is_refused(admin_client: TestClient) -> None:
    admin_client.app.state.settings.max_import_bytes = 2048  # type: ignore[attr-defined]
    response = admin_client.post(
        "/api/v1/organizations/import", content=HEADER.encode() + b"x" * 5000
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_not_utf8_is_refused(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/api/v1/organizations/import", content=b"code,name,kind\n000.00.25.H49,S\xf4,department\n"
    )
    assert response.status_code == 422
    assert "UTF-8" in response.json()["error"]["message"]


def test_export_reads_back_unchanged(client: TestClient, db: Session) -> None:
    response = client.get("/api/v1/organizations/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == counts(db)[0]
    hong_gai = next(r for r in rows if r["short_name"] == "Phường Bạch Đằng")
    assert hong_gai["status"] == "dissolved"
    assert hong_gai["successor_codes"]
    result = transfer.import_csv(db, text=response.text, actor="test", default_node="H49")
    assert (result.created, result.updated) == (0, 0)
    assert result.unchanged == len(rows)


def test_cli_import_with_progress(
    tmp_path: Path, engine: Engine, database_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # The CLI opens its own connection: use a file that fails, so the shared database is untouched.
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "000.00.2X.H49,Sai,department,,,,,\n", encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli_app, ["org", "import", str(bad)])
    assert result.exit_code == 2
    assert "line 2 [code]" in result.output
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "000.00.25.H49,Sở Mới,department,,,,,\n", encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["org", "import", "--dry-run", str(good)])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output
    assert "1 created" in result.output
