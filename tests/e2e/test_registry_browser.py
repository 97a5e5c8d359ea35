"""A clerk signs in, searches the registry without accents, and sees what a ward was formed from."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_sign_in_search_open_a_ward_see_what_it_was_formed_from(page: Page) -> None:
    sign_in(page)
    expect(page.get_by_test_id("who")).to_have_text("Văn thư phường Hồng Gai")

    page.get_by_role("searchbox").fill("ha long")
    page.get_by_role("button", name="Tìm").click()
    expect(page.get_by_test_id("result-count")).to_contain_text("kết quả")
    page.get_by_role("link", name="UBND phường Hạ Long", exact=True).click()

    expect(page.get_by_test_id("agency-name")).to_have_text("UBND phường Hạ Long")
    expect(page.get_by_test_id("agency-status")).to_have_text("Đang hoạt động")
    expect(page.get_by_test_id("agency-parent")).to_contain_text("Ủy ban nhân dân tỉnh Quảng Ninh")
    formed_from = page.get_by_test_id("predecessors")
    expect(formed_from).to_contain_text("Hình thành từ (2)")
    expect(formed_from).to_contain_text("Phường Hồng Hà")
    expect(formed_from).to_contain_text("Phường Hồng Hải")

    # A former ward says it is dissolved and where its documents now go.
    formed_from.get_by_role("link", name="Phường Hồng Hà").click()
    expect(page.get_by_test_id("agency-status")).to_have_text("Đã giải thể")
    expect(page.locator(".notice")).to_contain_text("từ ngày 01/07/2025")
    expect(page.get_by_test_id("successors")).to_contain_text("UBND phường Hạ Long")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "former-ward.png"), full_page=True)


def test_tree_by_level_and_english(page: Page) -> None:
    sign_in(page)
    tree = page.locator(".tree")
    expect(tree).to_contain_text("Ủy ban nhân dân tỉnh Quảng Ninh")
    expect(tree).to_contain_text("Sở Nội vụ")
    expect(tree).to_contain_text("UBND phường Hồng Gai")
    expect(tree).not_to_contain_text("Thành phố Hạ Long")  # former units hidden by default
    page.get_by_role("link", name="Hiện cả đơn vị đã sáp nhập, giải thể").click()
    expect(page.locator(".tree")).to_contain_text("UBND thành phố Hạ Long")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agency registry")
    page.get_by_role("searchbox").fill("hong gai")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="UBND phường Hồng Gai", exact=True).click()
    expect(page.get_by_test_id("predecessors")).to_contain_text("Formed from (3)")


def test_wrong_password_is_explained(page: Page) -> None:
    page.goto("/signin")
    page.get_by_label("Tên đăng nhập").fill("vanthu.honggai")
    page.get_by_label("Mật khẩu").fill("not the password")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_test_id("signin-error")).to_have_text(
        "Tên đăng nhập hoặc mật khẩu không đúng."
    )


def test_usable_on_a_phone(phone: Page) -> None:
    sign_in(phone)
    for path in ("/registry", "/registry?q=hong+gai", "/registry/000.00.84.H49"):
        phone.goto(path)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a 390px screen"
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "ward-phone.png"), full_page=False)
