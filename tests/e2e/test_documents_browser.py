"""A department's clerk sends a signed document with a PDF to Phường Hồng Gai; the ward's clerk
sees it, accepts it (03); the sender sees 03 for that recipient."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import submit_sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def signed_in(browser: Browser, live_server: str, username: str) -> Page:
    context = browser.new_context(base_url=live_server, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/documents")
    submit_sign_in(page, username)  # waits until signed in (a URL glob matched the sign-in page)
    page.wait_for_url(lambda url: urlsplit(url).path == "/documents")
    return page


def test_two_clerks_exchange_a_document(browser: Browser, live_server: str) -> None:
    subject = "Về việc báo cáo kết quả chuyển đổi số quý IV"
    department = signed_in(browser, live_server, "vanthu.snv")
    department.get_by_role("link", name="Soạn văn bản").click()
    department.get_by_placeholder("Lọc theo tên, ví dụ: hong gai").fill("hong gai")
    department.get_by_role("checkbox", name=re.compile(r"Phường Hồng Gai 000")).check()
    department.get_by_label("Trích yếu").fill(subject)
    department.get_by_label("Loại văn bản").select_option("Công văn")
    department.get_by_label("Đơn vị soạn thảo (ký hiệu)").fill("CĐS")
    department.get_by_label("Độ khẩn").select_option("1")
    department.get_by_label("Tệp PDF đính kèm").set_input_files(
        [{"name": "bao-cao.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    department.get_by_role("button", name="Ký và gửi").click()
    expect(department.get_by_test_id("sent-notice")).to_have_text("Đã ký số và gửi văn bản.")
    expect(department.get_by_test_id("document-subject")).to_have_text(subject)
    expect(department.get_by_text("Chữ ký số hợp lệ")).to_be_visible()
    # The number and notation come from the department's outgoing register.
    expect(department.get_by_text(re.compile(r"^\d{2,}/SNV-CĐS$"))).to_be_visible()

    ward = signed_in(browser, live_server, "vanthu.honggai")
    row = ward.get_by_test_id("inbox").get_by_role("link", name=subject)
    for _ in range(50):  # the worker delivers within a moment
        if row.count():
            break
        ward.wait_for_timeout(200)
        ward.reload()
    expect(row).to_be_visible()
    row.click()
    expect(ward.get_by_test_id("attachment")).to_have_text("bao-cao.pdf")
    expect(ward.locator("object.pdf")).to_have_attribute("type", "application/pdf")
    expect(ward.get_by_test_id("recipient")).to_contain_text("01 · Đã đến")
    ward.get_by_role("button", name="03 · Đã tiếp nhận").click()
    expect(ward.get_by_test_id("recipient")).to_contain_text("03 · Đã tiếp nhận")
    SHOTS.mkdir(exist_ok=True)
    ward.screenshot(path=str(SHOTS / "ward-accepted.png"), full_page=True)

    department.goto("/documents/sent")
    status = department.get_by_test_id("recipient-status").filter(has_text="Phường Hồng Gai").first
    expect(status).to_contain_text("Đã tiếp nhận")
    expect(status).to_contain_text("(03)")
    department.screenshot(path=str(SHOTS / "sent-03.png"), full_page=True)


def test_composer_explains_what_is_missing(browser: Browser, live_server: str) -> None:
    page = signed_in(browser, live_server, "vanthu.snv")
    page.goto("/documents/new")
    page.get_by_label("Trích yếu").fill("Thiếu nơi nhận")
    page.get_by_role("button", name="Ký và gửi").click()
    expect(page.get_by_test_id("compose-error")).to_have_text("Chọn ít nhất một cơ quan nhận.")
