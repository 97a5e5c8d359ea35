"""Decree 30/2020 in the browser: the department's clerk signs a decision twice (the director,
then the agency) and sends it; the ward's clerk sees both signatures green, opens the PDF, and
its rendered page shows the red seal over the left of the blue signature; both registers list
it, on a phone too."""

from __future__ import annotations

import io
import re

import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no py.typed
import pytest
from PIL import Image
from playwright.sync_api import Browser, FilePayload, Page, expect

from lienthong.exchange.demo_documents import demo_pdf
from lienthong.exchange.pdfsign import Place

from .test_documents_browser import SHOTS, signed_in

pytestmark = pytest.mark.e2e


def _count(image: Image.Image, *, red: bool) -> int:
    pixels: list[tuple[int, int, int]] = list(image.get_flattened_data())  # type: ignore[arg-type]
    if red:
        return sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)
    return sum(1 for r, g, b in pixels if b > 150 and r < 90)


def test_sign_twice_send_and_see_both_signatures(
    browser: Browser, live_server: str, phone: Page
) -> None:
    subject = "Về việc ban hành quy chế văn thư điện tử"
    department = signed_in(browser, live_server, "vanthu.snv")
    department.goto("/documents/new")
    department.get_by_placeholder("Lọc theo tên, ví dụ: hong gai").fill("hong gai")
    department.get_by_role("checkbox", name=re.compile(r"Phường Hồng Gai 000")).check()
    department.get_by_label("Trích yếu").fill(subject)
    department.get_by_label("Loại văn bản").select_option("Quyết định")
    department.get_by_label("Người ký", exact=True).fill("Nguyễn Văn Minh")
    department.get_by_label("Chức vụ người ký").fill("Giám đốc")
    department.get_by_label(re.compile("Ký số tệp PDF")).check()
    upload: FilePayload = {
        "name": "quyet-dinh.pdf",
        "mimeType": "application/pdf",
        "buffer": demo_pdf("QUYẾT ĐỊNH", ["Ban hành quy chế."]),
    }
    department.get_by_label("Tệp PDF đính kèm").set_input_files([upload])
    department.get_by_role("button", name="Ký và gửi").click()
    expect(department.get_by_test_id("sent-notice")).to_be_visible()
    expect(department.get_by_text(re.compile(r"^\d{2,}/QĐ-SNV$"))).to_be_visible()
    notation = department.get_by_text(re.compile(r"^\d{2,}/QĐ-SNV$")).inner_text()

    ward = signed_in(browser, live_server, "vanthu.honggai")
    row = ward.get_by_test_id("inbox").get_by_role("link", name=subject)
    expect(row).to_be_visible()
    row.click()
    check = ward.get_by_test_id("pdf-check")
    expect(check).to_have_attribute("data-state", "green")
    expect(check.locator('[data-role="person"]')).to_contain_text(
        "Ký bởi Nguyễn Văn Minh, chức danh Giám đốc"
    )
    expect(check.locator('[data-role="agency"]')).to_contain_text("Cơ quan Sở Nội vụ")
    expect(ward.get_by_test_id("return-invalid")).to_have_count(0)
    SHOTS.mkdir(exist_ok=True)
    ward.screenshot(path=str(SHOTS / "ward-two-signatures.png"), full_page=True)

    # The PDF as the receiver opens it: the seal (red) over the left third of the signature.
    href = ward.get_by_test_id("attachment").get_attribute("href")
    assert href is not None
    pdf_bytes = ward.request.get(href).body()
    document = pdfium.PdfDocument(pdf_bytes)
    document.init_forms()
    image = document[0].render(scale=1, may_draw_forms=True).to_pil().convert("RGB")
    image.save(SHOTS / "signed-page.png")
    x0, y0, x1, y1 = Place().box
    height = image.height
    assert _count(image.crop((x0, height - y1, x0 + (x1 - x0) // 3, height - y0)), red=True) > 50
    right = image.crop((x0 + (x1 - x0) // 2, height - y1, x1, height - y0))
    assert _count(right, red=False) > 50
    assert _count(right, red=True) == 0
    document.close()
    assert Image.open(io.BytesIO((SHOTS / "signed-page.png").read_bytes())).size == image.size

    # Both registers list it; the incoming one numbers it for the ward.
    department.goto("/registers")
    expect(department.get_by_test_id("register").get_by_role("link", name=notation)).to_be_visible()
    ward.goto("/registers?book=incoming")
    line = ward.get_by_test_id("register-line").filter(has_text=subject)
    expect(line).to_contain_text("green")

    phone.goto("/documents")
    phone.get_by_label("Tên đăng nhập").fill("vanthu.honggai")
    phone.get_by_label("Mật khẩu").fill("lienthong-demo")
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url("**/documents")
    phone.goto("/registers?book=incoming")
    expect(phone.get_by_test_id("register-line").filter(has_text=subject)).to_be_visible()
    overflow = phone.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert overflow is False
    phone.get_by_label("Tìm trích yếu, số, ký hiệu").fill("quy chế văn thư")
    phone.keyboard.press("Enter")
    expect(phone.get_by_test_id("register-line")).to_have_count(1)
