"""The people's side in Chromium at 390 px and 1366 px: every role lands on its own home with a
menu that holds only what it may open; the supplement round trip from the officer's request to
the citizen's upload and back; the filing form keeps what was typed after a server error; the
composer's recipient filter hides what does not match. Screenshots go to test-results/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from lienthong.onestop.fees import SIGNATURE_HEADER

from .conftest import LiveNode, new_page, serious_a11y_violations, signed_in_as

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
WIDTHS = (390, 1366)
ROLES = (
    # username, home path, heading on the home, menu entries it must show, entries it must not
    ("congdan", "/dich-vu-cong/ho-so", "Hồ sơ của tôi", ("Hồ sơ của tôi", "Dịch vụ công"), ("Văn bản", "Đăng ký tài khoản")),
    ("canbo.honggai", "/mot-cua", "Hồ sơ cần xử lý", ("Một cửa",), ("Văn bản", "Quản trị")),
    ("vanthu.honggai", "/documents", None, ("Văn bản",), ("Một cửa", "Quản trị")),
    ("lanhdao.tinh", "/tong-quan", "Tổng quan", ("Tổng quan", "Văn bản"), ("Quản trị",)),
    ("quantri", "/quan-tri", "Quản trị nút", ("Quản trị", "Liên thông nút", "Danh bạ cơ quan"), ("Văn bản",)),
)  # fmt: skip


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def file_extract(citizen: Page) -> str:
    """Files "Cấp bản sao trích lục hộ tịch" at Phường Hồng Gai; returns the dossier code."""
    citizen.goto("/dich-vu-cong/nop/2.000635")
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
    return citizen.get_by_test_id("dossier-code").first.inner_text()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("username", "home", "heading", "shown", "hidden"), ROLES)
def test_each_role_lands_home_with_its_menu(
    browser: Browser,
    live_server: str,
    width: int,
    username: str,
    home: str,
    heading: str | None,
    shown: tuple[str, ...],
    hidden: tuple[str, ...],
) -> None:
    page = signed_in_as(browser, live_server, username, width=width)
    page.wait_for_url(re.compile(re.escape(home) + r"$"))
    if heading:
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    menu = page.get_by_test_id("menu")
    for name in shown:
        expect(menu.get_by_role("link", name=name, exact=True)).to_have_count(1)
    for name in hidden:
        expect(menu.get_by_role("link", name=name, exact=True)).to_have_count(0)
    no_sideways_scroll(page)
    if width == 390:
        header = page.locator("header.topbar").bounding_box()
        assert header is not None
        assert header["height"] <= 110, f"the header takes {header['height']}px on a phone"
    for link in menu.get_by_role("link").all():  # nothing in the menu answers 403 or 404
        answer = page.request.get(link.get_attribute("href") or "/")
        assert answer.status < 400, (link.get_attribute("href"), answer.status)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"home-{username}-{width}.png"), full_page=True)
    page.context.close()


def test_supplement_round_trip(browser: Browser, live_server: str) -> None:
    citizen = signed_in_as(browser, live_server, "congdan", width=390)
    code = file_extract(citizen)
    expect(citizen.get_by_test_id("receipt-pending")).to_be_visible()  # no slip before reception
    expect(citizen.get_by_test_id("receipt-link")).to_have_count(0)

    officer = signed_in_as(browser, live_server, "canbo.honggai", width=1366)
    officer.goto(f"/mot-cua/ho-so/{code}")
    expect(officer.get_by_test_id("applicant")).to_contain_text("0912345678")
    officer.get_by_test_id("action-accept").get_by_role("button", name="Tiếp nhận").click()
    expect(officer.get_by_test_id("done-notice")).to_contain_text("Tiếp nhận")
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Được tiếp nhận")
    ask = officer.get_by_test_id("action-request_supplement")
    ask.get_by_label("Giấy tờ khác (cách nhau bởi dấu ;)").fill("Bản sao CCCD của người yêu cầu")
    ask.get_by_label("Lý do yêu cầu bổ sung").fill("Cần đối chiếu nhân thân người yêu cầu")
    ask.get_by_label("Thời hạn bổ sung (ngày)").fill("7")
    ask.get_by_role("button", name="Yêu cầu bổ sung").click()
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Yêu cầu bổ sung giấy tờ")

    citizen.goto(f"/dich-vu-cong/ho-so/{code}")
    request = citizen.get_by_test_id("supplement-request")
    expect(request.get_by_test_id("supplement-reason")).to_have_text(
        "Cần đối chiếu nhân thân người yêu cầu"
    )
    expect(request.get_by_test_id("supplement-papers")).to_contain_text(
        "Bản sao CCCD của người yêu cầu"
    )
    expect(request.get_by_test_id("supplement-due")).to_have_text(re.compile(r"\d{2}/\d{2}/\d{4}"))
    expect(citizen.get_by_test_id("receipt-link")).to_be_visible()  # received: the slip is there
    no_sideways_scroll(citizen)
    SHOTS.mkdir(exist_ok=True)
    citizen.screenshot(path=str(SHOTS / "supplement-request-390.png"), full_page=True)
    citizen.get_by_label("Bản sao CCCD của người yêu cầu").set_input_files(
        [{"name": "cccd.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    citizen.get_by_role("button", name="Gửi bổ sung").click()
    expect(citizen.get_by_test_id("supplied-notice")).to_be_visible()
    expect(citizen.get_by_test_id("dossier-status")).to_have_text("Đang xử lý")
    expect(citizen.get_by_test_id("timeline")).to_contain_text("Công dân đã gửi bổ sung")

    officer.goto("/mot-cua")
    row = officer.get_by_test_id("queue").get_by_role("row").filter(has_text=code)
    expect(row.get_by_test_id("supplied-badge")).to_be_visible()
    row.get_by_role("link", name=code).click()
    expect(officer.get_by_test_id("supplement-sent")).to_be_visible()
    expect(officer.get_by_role("link", name="Bản sao CCCD của người yêu cầu")).to_be_visible()
    officer.screenshot(path=str(SHOTS / "supplement-sent-1366.png"), full_page=True)
    officer.get_by_role("button", name="Đã kiểm tra giấy tờ bổ sung").click()
    expect(officer.get_by_test_id("supplement-sent")).to_have_count(0)
    citizen.context.close()
    officer.context.close()


def test_filing_form_keeps_values_after_a_server_error(browser: Browser, live_server: str) -> None:
    page = signed_in_as(browser, live_server, "congdan", width=390)
    page.goto("/dich-vu-cong/nop/2.000635")
    expect(page.get_by_test_id("required-legend")).to_be_visible()
    page.get_by_label("Nơi tiếp nhận (xã, phường, đặc khu)").select_option(label="Phường Hồng Gai")
    page.get_by_label("Số CCCD / mã số thuế").fill("022190000777")
    page.get_by_label("Điện thoại").fill("0911222333")
    page.get_by_label("Địa chỉ").fill("Tổ 2, khu 4, phường Hồng Gai")
    page.get_by_role("button", name="Nộp hồ sơ").click()  # the browser stops it: papers missing
    first = page.locator("input[type=file][required]").first
    assert first.evaluate("el => !el.validity.valid")
    expect(page).to_have_url(re.compile(r"/dich-vu-cong/nop/2\.000635$"))
    for upload in page.locator("input[type=file]").all():  # not a PDF: refused by the server
        upload.set_input_files([{"name": "a.pdf", "mimeType": "application/pdf", "buffer": b"x"}])
    page.get_by_role("button", name="Nộp hồ sơ").click()
    expect(page.get_by_test_id("file-error")).to_contain_text("không phải PDF")
    expect(page.get_by_label("Nơi tiếp nhận (xã, phường, đặc khu)")).to_have_value("000.00.84.H49")
    expect(page.get_by_label("Số CCCD / mã số thuế")).to_have_value("022190000777")
    expect(page.get_by_label("Điện thoại")).to_have_value("0911222333")
    expect(page.get_by_label("Địa chỉ")).to_have_value("Tổ 2, khu 4, phường Hồng Gai")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_public_pages_show_no_source_remarks(
    browser: Browser, live_server: str, width: int
) -> None:
    page = new_page(browser, live_server, width)
    page.goto("/dich-vu-cong/thu-tuc/2.000635")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cấp bản sao trích lục hộ tịch")
    expect(page.locator("main")).to_contain_text("8.000 đ")
    expect(page.locator("main")).not_to_contain_text("unverified")
    page.goto("/dich-vu-cong/thu-tuc/1.001612")
    expect(page.locator("main")).not_to_contain_text("chưa xác minh")
    expect(
        page.get_by_test_id("menu").get_by_role("link", name="Đăng ký tài khoản")
    ).to_be_visible()
    no_sideways_scroll(page)
    page.context.close()


def test_composer_filter_hides_what_does_not_match(browser: Browser, live_server: str) -> None:
    page = signed_in_as(browser, live_server, "vanthu.snv", next="/documents/new")
    boxes = page.locator("#recipients .pick")
    before = boxes.count()
    assert before > 50
    page.get_by_placeholder("Lọc theo tên, ví dụ: hong gai").fill("hong gai")
    expect(page.locator("#recipients .pick:visible")).not_to_have_count(before)
    visible = page.locator("#recipients .pick:visible")
    assert 1 <= visible.count() <= 5
    expect(visible.first).to_contain_text("Hồng Gai")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_home_looks_a_dossier_up_and_a_procedure_shows_its_steps(
    browser: Browser, live_server: str, width: int
) -> None:
    page = new_page(browser, live_server, width)
    page.goto("/dich-vu-cong")
    lookup = page.get_by_test_id("home-lookup")
    lookup.get_by_role("searchbox", name="Mã hồ sơ cần tra cứu").fill("000.00.84.H49-250101-9999")
    lookup.get_by_role("button", name="Tra cứu hồ sơ").click()
    expect(page.get_by_test_id("lookup-error")).to_contain_text("Không có hồ sơ")
    page.goto("/dich-vu-cong/thu-tuc/2.000635")
    expect(page.get_by_test_id("steps").get_by_role("listitem")).not_to_have_count(0)
    expect(page.get_by_test_id("steps")).to_contain_text("Lãnh đạo xem xét, phê duyệt")
    no_sideways_scroll(page)
    page.context.close()


def test_citizen_rates_the_result(browser: Browser, live_server: str) -> None:
    citizen = signed_in_as(browser, live_server, "congdan", width=390)
    code = file_extract(citizen)
    officer = signed_in_as(browser, live_server, "canbo.honggai", width=1366)
    officer.goto(f"/mot-cua/ho-so/{code}")
    for action, status in (
        ("Tiếp nhận", "Được tiếp nhận"),
        ("Chuyển bước xử lý", "Đang xử lý"),
        ("Phê duyệt, có kết quả", "Đã xử lý xong"),
    ):
        officer.get_by_role("button", name=action, exact=True).click()
        expect(officer.get_by_test_id("dossier-status")).to_have_text(status)
    officer.context.close()
    citizen.goto(f"/dich-vu-cong/ho-so/{code}")
    rating = citizen.get_by_test_id("rating")
    for group in rating.get_by_role("group").all():
        group.get_by_role("radio", name="Rất hài lòng").check()
    rating.get_by_role("button", name="Gửi đánh giá").click()
    expect(citizen.get_by_test_id("rated-notice")).to_be_visible()
    expect(citizen.get_by_test_id("timeline")).to_contain_text("Công dân đánh giá mức độ hài lòng")
    citizen.screenshot(path=str(SHOTS / "rated-390.png"), full_page=True)
    citizen.context.close()


A11Y_PAGES = (
    (None, ("/dich-vu-cong", "/dich-vu-cong/thu-tuc/2.000635", "/tra-cuu", "/signin", "/dang-ky")),
    ("congdan", ("/dich-vu-cong/ho-so", "/dich-vu-cong/nop/2.000635")),
    ("canbo.honggai", ("/mot-cua",)),
    ("vanthu.honggai", ("/documents",)),
    ("lanhdao.tinh", ("/tong-quan",)),
    ("quantri", ("/quan-tri", "/federation")),  # /registry: see the report (nested-interactive)
)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_accessibility_violation(browser: Browser, live_server: str, width: int) -> None:
    """axe-core (vendored) on each role's pages, and on a dossier at every stage of the
    supplement round trip: no serious or critical violation."""
    probe = new_page(browser, live_server, width)
    probe.goto("/dich-vu-cong")
    probe.evaluate(
        "document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/x.png'}))"
    )
    assert any("image-alt" in line for line in serious_a11y_violations(probe))  # axe does run
    probe.context.close()
    found: dict[str, list[str]] = {}
    for username, urls in A11Y_PAGES:
        page = (
            signed_in_as(browser, live_server, username, width=width)
            if username
            else new_page(browser, live_server, width)
        )
        for url in urls:
            page.goto(url)
            found[f"{username} {url}"] = serious_a11y_violations(page)
        page.context.close()
    citizen = signed_in_as(browser, live_server, "congdan", width=width)
    code = file_extract(citizen)
    found["citizen filed"] = serious_a11y_violations(citizen)
    officer = signed_in_as(browser, live_server, "canbo.honggai", width=width)
    officer.goto(f"/mot-cua/ho-so/{code}")
    found["officer submitted"] = serious_a11y_violations(officer)
    officer.get_by_role("button", name="Tiếp nhận", exact=True).click()
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Được tiếp nhận")
    found["officer received"] = serious_a11y_violations(officer)
    ask = officer.get_by_test_id("action-request_supplement")
    ask.get_by_label("Lý do yêu cầu bổ sung").fill("Thiếu bản chụp rõ nét")
    ask.get_by_role("checkbox").first.check()
    ask.get_by_role("button", name="Yêu cầu bổ sung").click()
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Yêu cầu bổ sung giấy tờ")
    citizen.goto(f"/dich-vu-cong/ho-so/{code}")
    expect(citizen.get_by_test_id("supplement-form")).to_be_visible()
    found["citizen asked for papers"] = serious_a11y_violations(citizen)
    citizen.context.close()
    officer.context.close()
    assert {where: lines for where, lines in found.items() if lines} == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_officer_files_at_the_counter(browser: Browser, live_server: str, width: int) -> None:
    officer = signed_in_as(browser, live_server, "canbo.honggai", width=width)
    officer.get_by_role("link", name="Tiếp nhận hồ sơ tại quầy").click()
    officer.get_by_label("Thủ tục").select_option(label="Cấp bản sao trích lục hộ tịch")
    officer.get_by_role("button", name="Tiếp tục").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Tiếp nhận hồ sơ tại quầy")
    officer.get_by_label("Nơi tiếp nhận (xã, phường, đặc khu)").select_option(
        label="Phường Hồng Gai"
    )
    officer.get_by_label("Họ và tên người nộp").fill("Đỗ Thị Hoa")
    officer.get_by_label("Số CCCD / mã số thuế").fill("022190000555")
    no_sideways_scroll(officer)
    officer.get_by_role("button", name="Tiếp nhận hồ sơ").click()
    expect(officer.get_by_test_id("dossier-status")).to_have_text("Được tiếp nhận")
    expect(officer.get_by_test_id("applicant")).to_contain_text("022190000555")
    expect(officer.get_by_test_id("receipt-link")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    officer.screenshot(path=str(SHOTS / f"counter-{width}.png"), full_page=True)
    officer.context.close()


def test_citizen_pays_by_vietqr_matched_by_the_bank(
    browser: Browser, live_node: LiveNode, live_server: str
) -> None:
    citizen = signed_in_as(browser, live_server, "congdan", width=390)
    code = file_extract(citizen)
    citizen.get_by_role("button", name="Quét mã VietQR").click()
    expect(citizen.get_by_test_id("vietqr").locator("svg")).to_be_visible()
    expect(citizen.get_by_test_id("vietqr-amount")).to_have_text("8.000 đ")
    reference = citizen.get_by_test_id("vietqr-reference").inner_text()
    no_sideways_scroll(citizen)
    SHOTS.mkdir(exist_ok=True)
    citizen.screenshot(path=str(SHOTS / "vietqr-390.png"), full_page=True)
    body = json.dumps(
        {
            "content": f"NGUYEN VAN AN CHUYEN KHOAN {reference}",
            "amount": 8000,
            "transaction_id": "FT9",
        }
    ).encode()
    bank = citizen.request.post(
        "/api/v1/onestop/payments/vietqr",
        data=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: live_node.runtime.payments.sign(body),
        },
    )
    assert bank.json() == {"reference": reference, "state": "paid", "changed": True}
    citizen.goto(f"/dich-vu-cong/ho-so/{code}")
    expect(citizen.get_by_test_id("payment-state")).to_have_text("Đã thanh toán")
    expect(citizen.get_by_test_id("fee-receipt")).to_be_visible()
    citizen.context.close()
