"""A citizen files online and pays; an officer accepts, processes and returns the result; the
public look-up shows "Đã trả kết quả"; the receipt PDF opens with a QR code pointing at it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.onestop.test_slips import _codes_on_page_1

from .conftest import signed_in_as

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def signed_in(browser: Browser, live_server: str, username: str, *, phone: bool = False) -> Page:
    return signed_in_as(
        browser, live_server, username, width=390 if phone else 1366, next="/dich-vu-cong"
    )


def test_citizen_files_pays_officer_returns_lookup_shows_it(
    browser: Browser, live_server: str
) -> None:
    citizen = signed_in(browser, live_server, "congdan", phone=True)
    citizen.get_by_role("searchbox", name="Tìm thủ tục").fill("trich luc")
    citizen.get_by_role("button", name="Tìm").click()
    citizen.get_by_role("link", name="Cấp bản sao trích lục hộ tịch").click()
    citizen.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    citizen.get_by_label("Nơi tiếp nhận (xã, phường, đặc khu)").select_option(
        label="Phường Hồng Gai"
    )
    citizen.get_by_label("Điện thoại").fill("0912345678")
    for upload in citizen.locator("input[type=file]").all():
        upload.set_input_files(
            [{"name": "giay-to.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
    citizen.get_by_role("button", name="Nộp hồ sơ").click()
    expect(citizen.get_by_test_id("filed-notice")).to_be_visible()
    code = citizen.get_by_test_id("dossier-code").first.inner_text()
    assert re.fullmatch(r"000\.00\.84\.H49-\d{6}-\d{4}", code)
    overflow = citizen.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the dossier page scrolls sideways by {overflow}px on a phone"

    citizen.get_by_role("button", name="Thanh toán trực tuyến").click()
    expect(citizen.get_by_text("8.000 đ")).to_be_visible()
    citizen.get_by_role("button", name="Xác nhận thanh toán").click()
    expect(citizen.get_by_test_id("paid-notice")).to_be_visible()
    expect(citizen.get_by_test_id("payment-state")).to_have_text("Đã thanh toán")

    officer = signed_in(browser, live_server, "canbo.honggai")
    officer.goto("/mot-cua")
    expect(officer.get_by_test_id("who")).to_have_text("Cán bộ một cửa phường Hồng Gai")
    officer.get_by_test_id("queue").get_by_role("link", name=code).click()
    steps = (
        ("Tiếp nhận", None, "Được tiếp nhận"),
        ("Chuyển bước xử lý", "Công chức tư pháp - hộ tịch", "Đang xử lý"),
        ("Phê duyệt, có kết quả", None, "Đã xử lý xong"),
        ("Trả kết quả", "result", "Đã trả kết quả"),
    )
    for action, extra, status in steps:
        if extra == "result":
            officer.get_by_label("Tệp kết quả").set_input_files(
                [{"name": "ban-sao-trich-luc.pdf", "mimeType": "application/pdf", "buffer": PDF}]
            )
        elif extra:
            officer.get_by_label("Chuyển đến (đơn vị, người xử lý)").fill(extra)
        officer.get_by_role("button", name=action, exact=True).click()
        # Each action reloads the page: wait for its new status before the next one.
        expect(officer.get_by_test_id("dossier-status")).to_have_text(status)
        expect(officer.get_by_test_id("action-error")).to_have_count(0)
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Đã trả kết quả")
    SHOTS.mkdir(exist_ok=True)
    officer.screenshot(path=str(SHOTS / "officer-returned.png"), full_page=True)

    public = browser.new_context(base_url=live_server, locale="vi-VN").new_page()
    public.goto(f"/tra-cuu?ma={code}")
    expect(public.get_by_test_id("dossier-status")).to_have_text("Đã trả kết quả")
    expect(public.get_by_test_id("timeline")).to_contain_text("Trả kết quả")
    expect(public.locator("main")).not_to_contain_text("0912345678")

    citizen.reload()
    receipt = citizen.request.get(f"/dich-vu-cong/ho-so/{code}/phieu-tiep-nhan.pdf")
    assert receipt.headers["content-type"] == "application/pdf"
    codes = _codes_on_page_1(receipt.body())
    assert codes["QRCode"].endswith(f"/tra-cuu?ma={code}")
    assert codes["QRCode"].startswith("http://127.0.0.1:")
    lookup = citizen.request.get("/" + codes["QRCode"].split("/", 3)[3])  # the QR's own URL, opened
    assert "Đã trả kết quả" in lookup.text()
    citizen.goto("/dich-vu-cong/ho-so")
    expect(citizen.get_by_role("link", name=code)).to_be_visible()
