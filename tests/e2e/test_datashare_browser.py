"""A consumer agency's officer requests access to birth records, the owner's administrator
approves, the consumer's system calls the service, and the citizen sees the call on their
phone in "Dữ liệu của tôi"."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from lienthong.accounts import service as accounts
from lienthong.datashare import seed
from lienthong.db import unit_of_work
from tests.e2e.conftest import LiveNode

pytestmark = pytest.mark.e2e
PURPOSE = "000.00.84.H49-261203-0042"


def signed_in(browser: Browser, live_server: str, username: str, *, phone: bool = False) -> Page:
    options = (
        {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
        if phone
        else {}
    )
    page = browser.new_context(base_url=live_server, locale="vi-VN", **options).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(10_000)
    page.goto("/signin?next=/du-lieu")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("lienthong-demo")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/du-lieu")
    return page


def test_request_approve_call_and_citizen_sees_it(browser: Browser, live_node: LiveNode) -> None:
    with unit_of_work(live_node.factory) as session:
        system_id, secret = accounts.issue_credential(session, agency_code=seed.HONG_GAI)

    officer = signed_in(browser, live_node.url, "canbo.honggai")
    officer.get_by_role("searchbox").fill("khai sinh")
    officer.get_by_role("button", name="Tìm").click()
    officer.get_by_role("link", name="Đăng ký khai sinh").click()
    expect(officer.get_by_test_id("items")).to_contain_text("Họ tên mẹ")
    form = officer.get_by_test_id("request-form")
    form.get_by_label("Hệ thống sử dụng").select_option(system_id)
    for item in ("Số định danh cá nhân", "Họ và tên", "Ngày sinh"):
        form.get_by_label(item, exact=True).check()
    form.get_by_label("Mục đích sử dụng").fill("Cấp bản sao trích lục khai sinh")
    form.get_by_label("Căn cứ pháp lý").fill("Nghị định 47/2020/NĐ-CP")
    form.get_by_label("Tần suất").fill("Theo từng hồ sơ")
    form.get_by_role("button", name="Gửi yêu cầu").click()
    expect(officer.get_by_test_id("sent")).to_be_visible()
    expect(officer.get_by_test_id("outgoing")).to_contain_text(system_id)

    # Before approval the system is refused.
    auth = (system_id, secret)
    url = f"{live_node.url}/api/v1/data/khai-sinh/tra-cuu"
    headers = {"Lienthong-Purpose": PURPOSE}
    refused = httpx.get(url, params={"key": seed.DEMO_SUBJECT}, auth=auth, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "no_grant"

    owner = signed_in(browser, live_node.url, "quantri.stp")
    owner.goto("/du-lieu/yeu-cau")
    row = owner.get_by_test_id("incoming").locator("tr", has_text=system_id)
    expect(row).to_contain_text("Chờ trả lời")
    row.get_by_role("button", name="Chấp thuận").click()
    expect(owner.get_by_test_id("grants-owner")).to_contain_text(system_id)

    answer = httpx.get(url, params={"key": seed.DEMO_SUBJECT}, auth=auth, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"] == [
        {"so_dinh_danh": seed.DEMO_SUBJECT, "ho_ten": "Nguyễn Văn An", "ngay_sinh": "1990-05-12"}
    ]

    owner.goto("/du-lieu/nhat-ky?outcome=ok")
    expect(owner.get_by_test_id("calls")).to_contain_text(PURPOSE)

    citizen = signed_in(browser, live_node.url, "congdan", phone=True)
    citizen.goto("/du-lieu-cua-toi")
    use = citizen.get_by_test_id("usage").locator("tr", has_text=PURPOSE)
    expect(use).to_contain_text("UBND phường Hồng Gai")
    expect(use).to_contain_text("Đăng ký khai sinh")
    overflow = citizen.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"'Dữ liệu của tôi' scrolls sideways by {overflow}px on a phone"
    # Keyboard: the download link is reachable with Tab.
    citizen.get_by_test_id("download").focus()
    expect(citizen.get_by_test_id("download")).to_be_focused()
