"""The network engineer on a phone: the board shows live figures from real probes of the demo's
loopback links, a link that stops answering is first on the board, and its alert is
acknowledged with a note by keyboard."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from lienthong.kernel.clock import utcnow
from lienthong.netmon import inventory
from lienthong.netmon.models import ProbeTarget
from lienthong.netmon.prober import Prober

from .conftest import LiveNode, sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_board_down_link_first_and_acknowledge(phone: Page, live_node: LiveNode) -> None:
    settings = live_node.runtime.settings
    with live_node.factory.begin() as session:
        inventory.import_links(
            session,
            text="site_code,provider,circuit_id,bandwidth_mbps,addresses,upstream_code,state,illustrative\n"
            f"000.00.85.H49,Viettel,E2E-HL-DOWN,20,127.0.0.1:{_closed_port()},,in_service,true\n",
            interval=30,
        )
        inventory.find_target(session, name="E2E-HL-DOWN").module = "tcp"
    prober = Prober(live_node.factory, settings)
    for _ in range(settings.netmon_down_after):
        with live_node.factory.begin() as session:
            session.execute(update(ProbeTarget).values(next_due_at=utcnow() - timedelta(seconds=1)))
        assert prober.run_round() > 1

    sign_in(phone, "kythuat.mang")
    phone.goto("/mang")
    board = phone.get_by_test_id("board")
    first = board.locator("tbody tr").first
    expect(first).to_contain_text("UBND phường Hạ Long")
    expect(first).to_contain_text("Mất kết nối")
    expect(board).to_contain_text("Hoạt động")  # the loopback links, really probed
    expect(board).to_contain_text("ms")
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "netmon-board-phone.png"), full_page=False)

    phone.get_by_role("link", name=re.compile(r"^Cảnh báo \(\d+\)$")).click()
    row = phone.get_by_test_id("alerts").locator("tr", has_text="UBND phường Hạ Long")
    expect(row).to_contain_text("Mất kết nối")
    note = row.get_by_label("Ghi chú")
    note.focus()
    phone.keyboard.type("Đã báo Viettel")
    phone.keyboard.press("Enter")
    acknowledged = phone.get_by_test_id("alerts").locator("tr", has_text="UBND phường Hạ Long")
    expect(acknowledged).to_contain_text("Đã báo Viettel")
    expect(acknowledged.get_by_label("Ghi chú")).to_have_count(0)
    phone.screenshot(path=str(SHOTS / "netmon-alerts-phone.png"), full_page=True)
