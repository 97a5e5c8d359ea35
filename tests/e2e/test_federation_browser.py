"""The node's administrator sees its peers and the link's state, finds a dead letter with its
reason, and puts it back in the queue; the page fits a phone."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from lienthong.db import unit_of_work
from lienthong.exchange import compose, intake
from lienthong.federation import outbox, peers
from lienthong.federation.models import Outbound, Peer
from lienthong.kernel.clock import utcnow
from lienthong.kernel.pki import FileKeyStore, issue, pem

from .conftest import LiveNode
from .test_documents_browser import PDF, SHOTS, signed_in

pytestmark = pytest.mark.e2e
VPCP = "000.00.00.G22"


def test_operator_requeues_a_dead_letter(browser: Browser, live_node: LiveNode) -> None:
    runtime = live_node.runtime
    assert isinstance(runtime.keys, FileKeyStore)
    ca_key, ca_cert = runtime.keys.ensure_ca()
    _key, axis = issue(ca_key, ca_cert, common_name="lienthong node VN", agency_code="VN")
    with unit_of_work(live_node.factory) as session:
        peers.add_peer(
            session,
            keys=runtime.keys,
            code="VN",
            base_url="http://127.0.0.1:9",
            certificate_pem=pem(axis) + pem(ca_cert),
            national=True,
        )
        package = compose.build(
            session,
            runtime,
            sender_code="000.00.02.H49",
            draft=compose.Draft(
                recipients=[VPCP],
                subject="Báo cáo gửi Văn phòng Chính phủ",
                uploads=[compose.Upload("bao-cao.pdf", io.BytesIO(PDF))],
            ),
        )
        answer, _, _ = intake.receive(
            session,
            runtime=runtime,
            chunks=compose.signed_chunks(runtime, package),
            agency_code="000.00.02.H49",
            may_remote_sign=False,
        )
        row = session.scalars(
            select(Outbound).where(Outbound.document_id == answer["document_id"])
        ).one()
        outbox.refused(
            session,
            row,
            error={"code": "bad_signature", "message": "Chữ ký số không hợp lệ (thử nghiệm)."},
        )
        peer = session.scalars(select(Peer).where(Peer.code == "VN")).one()
        peer.state, peer.last_error, peer.last_failure_at = "down", "ConnectError", utcnow()
        row_id = row.id

    page = signed_in(browser, live_node.url, "quantri")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/federation")
    vn = page.get_by_test_id("peer-VN")
    expect(vn).to_contain_text("trục quốc gia")
    expect(vn.get_by_test_id("peer-state")).to_contain_text("Mất kết nối")
    expect(vn.get_by_test_id("peer-backlog")).to_have_text("0")
    dead = page.get_by_test_id(f"dead-{row_id}")
    expect(dead).to_contain_text(answer["document_id"])
    expect(dead).to_contain_text("bad_signature")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "federation-phone.png"), full_page=True)
    dead.get_by_role("button", name="Đưa lại hàng đợi").click()
    expect(page.get_by_role("status")).to_contain_text("Đã đưa gói tin trở lại hàng đợi")
    expect(page.get_by_test_id(f"dead-{row_id}")).to_have_count(0)
    expect(page.get_by_test_id("peer-VN").get_by_test_id("peer-backlog")).to_have_text("1")
    with unit_of_work(live_node.factory) as session:
        row = session.get_one(Outbound, row_id)
        assert row.state == "queued"
        row.state = "dead"  # nothing runs a forwarder here; leave nothing behind
    # A clerk is not an operator.
    clerk = signed_in(browser, live_node.url, "vanthu.snv")
    response = clerk.goto("/federation")
    assert response is not None
    assert response.status == 403
