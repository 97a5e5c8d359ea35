"""The receipt and control slips are real PDFs: readable Vietnamese text, scannable codes."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pypdf
import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no py.typed
import pytest
import zxingcpp

from lienthong.onestop.slips import (
    ControlHop,
    ControlSlip,
    ReceiptSlip,
    SlipPaper,
    control_pdf,
    format_slip_time,
    receipt_pdf,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.00.20.H56-231027-0001"
URL = f"https://dichvucong.thanhhoa.gov.vn/tra-cuu.aspx?mahs={CODE}"
OUTCOMES = ("Trước hạn", "Đúng hạn", "Quá hạn")


def _receipt(**changes: object) -> ReceiptSlip:
    slip = ReceiptSlip(
        dossier_code=CODE,
        centre_name="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
        place="Thanh Hóa",
        applicant_name="Nguyễn Thị Hồng Nhung",
        applicant_address="Số 12 Lê Lợi, phường Điện Biên, TP Thanh Hóa",
        applicant_phone="0912 345 678",
        applicant_email="nhung.nguyen@example.vn",
        applicant_id="038190012345",
        procedure_name="Cấp giấy chứng nhận đăng ký hộ kinh doanh",
        fee_mode="Thu trước",
        papers=[
            SlipPaper("Giấy đề nghị đăng ký hộ kinh doanh"),
            SlipPaper("Bản sao CCCD của chủ hộ kinh doanh", "bản chứng thực"),
            SlipPaper("Hợp đồng thuê địa điểm kinh doanh", "bản photo", 2),
        ],
        processing_time="5 ngày làm việc",
        # Stored in UTC: 02:32 UTC is 9:32 in Vietnam.
        received_at=datetime(2023, 10, 27, 2, 32, tzinfo=UTC),
        due_at=datetime(2023, 11, 3, 9, 0, tzinfo=VN),
        lookup_url=URL,
        officer_name="Lê Văn Đức",
    )
    return replace(slip, **changes)  # type: ignore[arg-type]


def _control(hops: list[ControlHop] | None = None) -> ControlSlip:
    start = datetime(2023, 10, 27, 9, 32, tzinfo=VN)
    default = [
        ControlHop("Bộ phận TN & TKQ", "Phòng Tài chính - Kế hoạch", start, "Trước hạn"),
        ControlHop(
            "Phòng Tài chính - Kế hoạch",
            "Lãnh đạo UBND huyện",
            start + timedelta(days=3),
            "Đúng hạn",
            "Trình ký",
        ),
        ControlHop(
            "Lãnh đạo UBND huyện",
            "Bộ phận TN & TKQ",
            start + timedelta(days=8),
            "Quá hạn",
            "Chậm 1 ngày do chờ ý kiến",
        ),
        ControlHop("Bộ phận TN & TKQ", "Công dân", start + timedelta(days=8, hours=2), None),
    ]
    return ControlSlip(
        dossier_code=CODE,
        centre_name="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
        applicant_name="Nguyễn Thị Hồng Nhung",
        procedure_name="Cấp giấy chứng nhận đăng ký hộ kinh doanh",
        received_at=start,
        due_at=datetime(2023, 11, 3, 9, 0, tzinfo=VN),
        hops=default if hops is None else hops,
    )


def _pages(pdf: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _text(pdf: bytes) -> str:
    # Lines wrap wherever the layout needs; compare text with whitespace collapsed.
    return " ".join(" ".join(page.extract_text() for page in _pages(pdf)).split())


def _codes_on_page_1(pdf: bytes) -> dict[str, str]:
    # PDFium and zxing-cpp both ship as binary wheels, so this needs nothing beyond pip.
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[0].render(scale=250 / 72).to_pil()
    finally:
        document.close()
    return {result.format.name: result.text for result in zxingcpp.read_barcodes(image)}


def test_receipt_is_a_one_page_a5_pdf() -> None:
    pdf = receipt_pdf(_receipt())
    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf)
    assert len(pages) == 1
    width, height = float(pages[0].mediabox.width), float(pages[0].mediabox.height)
    assert (round(width), round(height)) == (420, 595)  # A5 portrait in points


def test_receipt_text_keeps_vietnamese_diacritics() -> None:
    text = _text(receipt_pdf(_receipt()))
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        "HẸN TRẢ KẾT QUẢ",
        CODE,
        "Nguyễn Thị Hồng Nhung",
        "Số 12 Lê Lợi, phường Điện Biên, TP Thanh Hóa",
        "0912 345 678",
        "nhung.nguyen@example.vn",
        "038190012345",
        "Cấp giấy chứng nhận đăng ký hộ kinh doanh",
        "Thu trước",
        "Hợp đồng thuê địa điểm kinh doanh",
        "bản chứng thực",
        "5 ngày làm việc",
        "Thanh Hóa, ngày 27 tháng 10 năm 2023",
        "Thời gian nhận hồ sơ: 9 giờ 32 phút, ngày 27/10/2023",
        "Sau 9 giờ 00 phút, ngày 03/11/2023",
        "NGƯỜI NỘP HỒ SƠ",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "Lê Văn Đức",
        URL,
    ):
        assert expected in text, expected


def test_receipt_qr_decodes_to_lookup_url_and_barcode_to_dossier_code() -> None:
    codes = _codes_on_page_1(receipt_pdf(_receipt()))
    assert codes["QRCode"] == URL
    assert codes["Code39"] == CODE


def test_receipt_qr_carries_any_lookup_url_exactly() -> None:
    url = "https://dvc.example.gov.vn/tra-cuu?mahs=H56.22-240101-0042&lang=vi"
    codes = _codes_on_page_1(
        receipt_pdf(_receipt(lookup_url=url, dossier_code="H56.22-240101-0042"))
    )
    assert codes["QRCode"] == url
    assert codes["Code39"] == "H56.22-240101-0042"


def test_receipt_escapes_markup_and_leaves_missing_fields_blank() -> None:
    slip = _receipt(
        applicant_name="Công ty TNHH A & B <Việt Nam>",
        applicant_address=None,
        applicant_phone=None,
        applicant_email=None,
        applicant_id=None,
        officer_name=None,
    )
    text = _text(receipt_pdf(slip))
    assert "Công ty TNHH A & B <Việt Nam>" in text
    assert "Địa chỉ: Số điện thoại: Email:" in text


def test_decomposed_input_prints_precomposed_letters() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    text = _text(receipt_pdf(_receipt(applicant_name=nfd)))
    assert "Nguyễn Thị Hồng Nhung" in text


def test_long_paper_list_flows_onto_a_second_page() -> None:
    papers = [SlipPaper(f"Giấy tờ số {n}") for n in range(1, 41)]
    pdf = receipt_pdf(_receipt(papers=papers))
    assert len(_pages(pdf)) >= 2
    text = _text(pdf)
    assert "Giấy tờ số 1 " in text
    assert "Giấy tờ số 40" in text


def test_same_slip_gives_same_bytes() -> None:
    assert receipt_pdf(_receipt()) == receipt_pdf(_receipt())
    assert control_pdf(_control()) == control_pdf(_control())


def test_lowercase_code_is_kept_in_full_ascii_code39_and_non_ascii_is_refused() -> None:
    pdf = receipt_pdf(_receipt(dossier_code="hs-2023/0001"))
    assert "hs-2023/0001" in _text(pdf)
    with pytest.raises(ValueError, match="Code39"):
        receipt_pdf(_receipt(dossier_code="HỒ-SƠ-1"))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        receipt_pdf(_receipt(received_at=datetime(2023, 10, 27, 9, 32)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2023, 10, 27, 2, 32, tzinfo=UTC), "9 giờ 32 phút, ngày 27/10/2023"),
        (datetime(2023, 11, 2, 17, 5, tzinfo=UTC), "0 giờ 05 phút, ngày 03/11/2023"),
        (datetime(2023, 11, 3, 14, 0, tzinfo=VN), "14 giờ 00 phút, ngày 03/11/2023"),
    ],
)
def test_format_slip_time_uses_vietnam_time(value: datetime, expected: str) -> None:
    assert format_slip_time(value) == expected


def test_control_slip_has_title_header_and_columns() -> None:
    pdf = control_pdf(_control())
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for expected in (
        "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        CODE,
        "Kèm theo hồ sơ của: Nguyễn Thị Hồng Nhung",
        "TÊN CƠ QUAN",
        "THỜI GIAN GIAO, NHẬN HỒ SƠ",
        "KẾT QUẢ GIẢI QUYẾT HỒ SƠ",
        "GHI CHÚ",
    ):
        assert expected in text, expected


def test_control_slip_has_one_row_per_hop_with_its_outcome() -> None:
    slip = _control()
    text = _text(control_pdf(slip))
    # Table cells are drawn row by row, so the text between two "1. Giao:" marks is one row.
    rows = text.split("1. Giao:")[1:]
    assert len(rows) == len(slip.hops)
    for row, hop in zip(rows, slip.hops, strict=True):
        assert row.strip().startswith(hop.from_unit)
        assert f"2. Nhận: {hop.to_unit}" in row
        assert format_slip_time(hop.at) in row
        assert "Người giao" in row
        assert "Người nhận" in row
        assert [o for o in OUTCOMES if o in row] == ([hop.outcome] if hop.outcome else [])
        if hop.note:
            assert hop.note in row


def test_control_slip_without_hops_still_prints_the_table_header() -> None:
    text = _text(control_pdf(_control(hops=[])))
    assert "TÊN CƠ QUAN" in text
    assert "1. Giao:" not in text
