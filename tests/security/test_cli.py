"""`lienthong sec …`: rules check, replay of a log file, sources."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lienthong.cli import app as cli_app
from lienthong.security.detection import SHIPPED_RULES


def test_rules_check_reports_each_rule(tmp_path: Path) -> None:
    good = CliRunner().invoke(cli_app, ["sec", "rules", "check", str(SHIPPED_RULES)])
    assert good.exit_code == 0, good.output
    assert "0 failed" in good.output
    (tmp_path / "bad.yml").write_text(
        "title: bad\nlogsource:\n    category: webserver\n"
        "detection:\n    s:\n        url.path|nosuchmodifier: x\n    condition: s\n"
    )
    bad = CliRunner().invoke(cli_app, ["sec", "rules", "check", str(tmp_path)])
    assert bad.exit_code == 1
    assert "nosuchmodifier" in bad.output
    assert "0 loaded, 1 failed" in bad.output


def test_replay_prints_the_alerts_a_log_raises(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    lines = [
        f"<38>Dec  3 10:00:{i:02d} bastion sshd[7{i}]: Failed password for root from "
        f"198.51.100.23 port 4{i:04d} ssh2"
        for i in range(8)
    ]
    lines += [
        '203.0.113.9 - - [03/Dec/2026:10:01:00 +0700] "GET /../../etc/passwd HTTP/1.1" 404 0 '
        '"-" "Mozilla/5.0"',
        '203.0.113.9 - - [03/Dec/2026:10:01:01 +0700] "GET /.env HTTP/1.1" 404 0 "-" "nuclei"',
        '{"timestamp": "2026-12-03T10:02:00+0700", "event_type": "alert", "src_ip": "10.0.0.8",'
        ' "dest_ip": "10.0.0.1", "alert": {"signature": "ET EXPLOIT test", "severity": 1}}',
        "garbage that is no log",
    ]
    log.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli_app, ["sec", "replay", str(log)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "12 lines, 1 not read" in out
    for title in (
        "SSH brute force",
        "Path traversal",
        "Probe for secrets",
        "Web vulnerability",
        "IDS alert of severity 1",
    ):
        assert title in out, title
    assert out.index("critical") < out.index("SSH brute force")  # most severe first


def test_sources_are_added_and_listed(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    name = f"cli-{secrets.token_hex(3)}"
    added = CliRunner().invoke(cli_app, ["sec", "source", "add", name])
    assert added.exit_code == 0, added.output
    assert "Token (shown once):" in added.output
    listed = CliRunner().invoke(cli_app, ["sec", "sources"])
    assert listed.exit_code == 0, listed.output
    assert name in listed.output
    again = CliRunner().invoke(cli_app, ["sec", "source", "add", name])
    assert again.exit_code == 2
    assert "source_exists" in again.output
