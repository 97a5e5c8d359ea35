"""The security analyst on a phone (390 px): the alert queue from the demo data, an alert
opened from the keyboard and acknowledged, then escalated to a case."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_analyst_handles_an_alert_on_a_phone(phone: Page) -> None:
    sign_in(phone, "giamsat.attt")
    phone.goto("/security")
    expect(phone.get_by_role("heading", name="Hàng đợi cảnh báo")).to_be_visible()
    expect(phone.get_by_test_id("count-critical")).not_to_have_text("0")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "security-queue-phone.png"), full_page=True)
    link = phone.get_by_role("link", name="JNDI lookup injection (Log4Shell)")
    link.focus()
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/security/alerts/*")
    expect(phone.get_by_test_id("state")).to_have_text("Mới")
    phone.get_by_label("Nhận xét / lý do").focus()
    phone.keyboard.type("Đã chặn địa chỉ tại tường lửa")
    phone.get_by_role("button", name="Tiếp nhận").click()
    expect(phone.get_by_test_id("state")).to_have_text("Đang xử lý")
    phone.get_by_role("button", name="Lập vụ việc").click()
    phone.wait_for_url("**/security/cases/*")
    expect(phone.get_by_test_id("case-alerts")).to_contain_text("Log4Shell")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
