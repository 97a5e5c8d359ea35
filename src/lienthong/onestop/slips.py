"""Printable one-stop slips (reference §4) as PDF bytes: the receipt-and-appointment slip and the
process control slip. Built from plain dataclasses so callers decide where the data comes from."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code39 import Extended39, Standard39
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lienthong.kernel.clock import LOCAL_ZONE

__all__ = [
    "ControlHop",
    "ControlSlip",
    "FeeReceipt",
    "ReceiptSlip",
    "SlipPaper",
    "control_pdf",
    "fee_receipt_pdf",
    "format_slip_time",
    "qr_svg",
    "receipt_pdf",
]

RECEIPT_TITLE = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
CONTROL_TITLE = "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ"
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")

_FONT_DIR = Path(__file__).parent / "fonts"
_REGULAR = "LienthongSans"
_BOLD = "LienthongSans-Bold"
# Code39 as printed by DVC systems: digits, capitals and - . space $ / + %.
# SimpleDocTemplate's frame keeps this padding inside the margins; tables must fit within it.
_FRAME_PAD = 6.0
_CODE39_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%")


@dataclass(frozen=True)
class SlipPaper:
    """One component of the dossier as listed on the receipt."""

    name: str
    kind: str = "bản chính"  # bản chính / bản chứng thực / bản photo
    quantity: int = 1


@dataclass(frozen=True)
class ReceiptSlip:
    """Data printed on "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" (§4.1)."""

    dossier_code: str
    centre_name: str
    place: str
    applicant_name: str
    applicant_address: str | None
    applicant_phone: str | None
    applicant_email: str | None
    applicant_id: str | None
    procedure_name: str
    fee_mode: str  # "Thu trước" / "Thu sau" / "Miễn" / "Không thu phí"
    papers: Sequence[SlipPaper]
    processing_time: str  # e.g. "5 ngày làm việc"
    received_at: datetime
    due_at: datetime
    lookup_url: str
    officer_name: str | None


@dataclass(frozen=True)
class ControlHop:
    """One hand-off of the dossier between two units, with its per-step outcome."""

    from_unit: str
    to_unit: str
    at: datetime
    outcome: str | None  # "Trước hạn" / "Đúng hạn" / "Quá hạn" / None while undecided
    note: str | None = None


@dataclass(frozen=True)
class ControlSlip:
    """Data printed on "Phiếu kiểm soát quá trình giải quyết hồ sơ" (§4.2)."""

    dossier_code: str
    centre_name: str
    applicant_name: str
    procedure_name: str
    received_at: datetime
    due_at: datetime
    hops: Sequence[ControlHop]


def format_slip_time(value: datetime) -> str:
    """'9 giờ 32 phút, ngày 27/10/2023' in Vietnam time, as the paper forms write it."""
    local = _local(value)
    return f"{local.hour} giờ {local.minute:02d} phút, ngày {local:%d/%m/%Y}"


def receipt_pdf(slip: ReceiptSlip) -> bytes:
    """The A5 portrait receipt-and-appointment slip as PDF bytes."""
    st = _styles()
    margin = 11 * mm
    width = A5[0] - 2 * (margin + _FRAME_PAD)
    qr_size = 25 * mm
    applicant: list[Flowable] = [
        Paragraph(f"<b>{_x(slip.centre_name)}</b> tiếp nhận hồ sơ của:", st["body"]),
        _field(st, "Ông/Bà", slip.applicant_name, bold=True),
        _field(st, "Địa chỉ", slip.applicant_address),
        _field(st, "Số điện thoại", slip.applicant_phone),
        _field(st, "Email", slip.applicant_email),
        _field(st, "Số CCCD/Định danh cá nhân", slip.applicant_id),
    ]
    story: list[Flowable] = [
        _header(st, slip.centre_name, slip.dossier_code, slip.place, slip.received_at, width),
        Spacer(1, 3 * mm),
        Paragraph(_x(RECEIPT_TITLE), st["title"]),
        Spacer(1, 1.5 * mm),
        _code39(slip.dossier_code, width * 0.7),
        Paragraph(_x(slip.dossier_code), st["center_small"]),
        Spacer(1, 1 * mm),
        # The QR sits beside the applicant block so the whole slip stays on one A5 page.
        _side_by_side(applicant, [_qr(slip.lookup_url, qr_size)], width, qr_size),
        _field(st, "Nội dung yêu cầu giải quyết", slip.procedure_name, bold=True),
        _field(st, "Hình thức thu phí", slip.fee_mode),
        Paragraph("1. Thành phần hồ sơ gồm:", st["body"]),
        _papers_table(st, slip.papers, width),
        Paragraph("2. Số lượng hồ sơ: 01 bộ.", st["body"]),
        _field(st, "3. Thời gian giải quyết hồ sơ theo quy định", slip.processing_time),
        _field(st, "4. Thời gian nhận hồ sơ", format_slip_time(slip.received_at)),
        _field(
            st,
            "5. Thời gian trả kết quả giải quyết hồ sơ",
            f"Sau {format_slip_time(slip.due_at)}",
            bold=True,
        ),
        _field(st, "6. Đăng ký nhận kết quả tại", slip.centre_name),
        Spacer(1, 1 * mm),
        Paragraph(
            "Kết quả có thể được trả sớm hơn thời hạn trên; khi có kết quả, tổ chức, cá nhân sẽ "
            "được thông báo qua tin nhắn SMS hoặc thư điện tử. Tra cứu tình trạng hồ sơ bằng "
            "cách quét mã QR hoặc tại:",
            st["note"],
        ),
        _one_line(slip.lookup_url, st["note"], width),
        Spacer(1, 2 * mm),
        _signatures(
            st,
            ("NGƯỜI NỘP HỒ SƠ", slip.applicant_name),
            ("NGƯỜI TIẾP NHẬN HỒ SƠ", slip.officer_name or ""),
            width,
        ),
    ]
    return _build(story, A5, margin, RECEIPT_TITLE, slip.centre_name, slip.dossier_code)


def control_pdf(slip: ControlSlip) -> bytes:
    """The A4 process control slip: one table row per hand-off (§4.2)."""
    st = _styles()
    width = A4[0] - 2 * (15 * mm + _FRAME_PAD)
    story: list[Flowable] = [
        _header(st, slip.centre_name, slip.dossier_code, None, slip.received_at, width),
        Spacer(1, 6 * mm),
        Paragraph(_x(CONTROL_TITLE), st["title"]),
        Spacer(1, 3 * mm),
        _field(st, "Kèm theo hồ sơ của", slip.applicant_name, bold=True),
        _field(st, "Nội dung yêu cầu giải quyết", slip.procedure_name),
        _field(st, "Thời gian nhận hồ sơ", format_slip_time(slip.received_at)),
        _field(st, "Thời gian hẹn trả kết quả", format_slip_time(slip.due_at)),
        Spacer(1, 3 * mm),
        _hops_table(st, slip.hops, width),
    ]
    return _build(story, A4, 15 * mm, CONTROL_TITLE, slip.centre_name, slip.dossier_code)


FEE_RECEIPT_TITLE = "BIÊN LAI THU PHÍ, LỆ PHÍ"


@dataclass(frozen=True)
class FeeReceipt:
    """The electronic fee receipt (biên lai điện tử) of one paid payment."""

    number: str
    centre_name: str
    payer_name: str
    payer_address: str | None
    dossier_code: str
    procedure_name: str
    amount_vnd: int
    paid_at: datetime
    reference: str
    transaction_id: str | None
    gateway: str
    lookup_url: str


def fee_receipt_pdf(receipt: FeeReceipt) -> bytes:
    """An A5 receipt: who paid what for which dossier, when, through which gateway."""
    st = _styles()
    margin = 10 * mm
    width = A5[0] - 2 * (margin + _FRAME_PAD)
    amount = f"{receipt.amount_vnd:,}".replace(",", ".") + " đồng"
    story: list[Flowable] = [
        _header(
            st, receipt.centre_name, receipt.dossier_code, "Quảng Ninh", receipt.paid_at, width
        ),
        Spacer(1, 5 * mm),
        Paragraph(_x(FEE_RECEIPT_TITLE), st["title"]),
        Paragraph(f"Số: <b>{_x(receipt.number)}</b>", st["center"]),
        Spacer(1, 3 * mm),
        _field(st, "Họ tên người nộp", receipt.payer_name, bold=True),
        _field(st, "Địa chỉ", receipt.payer_address or ""),
        _field(st, "Nội dung thu", f"Phí, lệ phí: {receipt.procedure_name}"),
        _field(st, "Số tiền", amount, bold=True),
        _field(st, "Hình thức thanh toán", f"Trực tuyến ({receipt.gateway})"),
        _field(st, "Mã giao dịch", receipt.transaction_id or receipt.reference),
        _field(st, "Thời gian thanh toán", format_slip_time(receipt.paid_at)),
        Spacer(1, 3 * mm),
        _side_by_side(
            [_one_line(receipt.lookup_url, st["note"], width - 26 * mm)],
            [_qr(receipt.lookup_url, 22 * mm)],
            width,
            24 * mm,
        ),
    ]
    return _build(story, A5, margin, FEE_RECEIPT_TITLE, receipt.centre_name, receipt.dossier_code)


# --- building blocks -------------------------------------------------------------------------


def _build(
    story: list[Flowable],
    pagesize: tuple[float, float],
    margin: float,
    title: str,
    author: str,
    code: str,
) -> bytes:
    buf = BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=title,
        author=_nfc(author),
        subject=code,
        lang="vi-VN",
        # Otherwise the canvas declares an unused, non-embedded Helvetica.
        initialFontName=_REGULAR,
        # Same slip, same bytes: no timestamp or random ID, so re-prints can be compared.
        invariant=1,
    )
    doc.build(story)
    return buf.getvalue()


def _header(
    st: dict[str, ParagraphStyle],
    centre: str,
    code: str,
    place: str | None,
    when: datetime,
    width: float,
) -> Table:
    left = [
        Paragraph(f"<b>{_x(centre.upper())}</b>", st["head"]),
        Spacer(1, 2 * mm),
        Paragraph(f"Mã hồ sơ: <b>{_x(code)}</b>", st["head"]),
    ]
    right: list[Flowable] = [
        Paragraph(f"<b>{_x(MOTTO[0])}</b>", st["head"]),
        Paragraph(f"<b><u>{_x(MOTTO[1])}</u></b>", st["head"]),
    ]
    if place is not None:
        local = _local(when)
        right.append(Spacer(1, 2 * mm))
        right.append(
            Paragraph(
                f"{_x(place)}, ngày {local:%d} tháng {local:%m} năm {local.year}", st["center"]
            )
        )
    table = Table([[left, right]], colWidths=[width * 0.4, width * 0.6])
    table.setStyle(_plain_cells())
    return table


def _side_by_side(
    left: list[Flowable], right: list[Flowable], width: float, right_width: float
) -> Table:
    table = Table([[left, right]], colWidths=[width - right_width, right_width])
    table.setStyle(
        TableStyle(
            [
                *_plain_cells().getCommands(),
                ("VALIGN", (1, 0), (1, 0), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ]
        )
    )
    return table


def _code39(code: str, max_width: float) -> Flowable:
    bar_height = 9 * mm
    value = code.strip()
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"dossier code {code!r} cannot be printed as Code39")
    # Standard39 silently drops (and upper-cases) characters outside its set, which would print a
    # barcode of a different code; full-ASCII Code39 keeps every character instead.
    kind = Standard39 if set(value) <= _CODE39_CHARS else Extended39
    probe = kind(value, barWidth=1.0, barHeight=bar_height, checksum=0, humanReadable=0)
    # Narrow bars of 0.33 mm read best; shrink only as far as the column needs.
    bar_width = min(0.33 * mm, max_width / probe.width)
    barcode: Flowable = kind(
        value, barWidth=bar_width, barHeight=bar_height, checksum=0, humanReadable=0
    )
    barcode.hAlign = "CENTER"
    return barcode


def qr_svg(text: str, size: float = 240) -> str:
    """A QR code as an inline SVG element (for the VietQR payment page)."""
    from reportlab.graphics import renderSVG

    svg = str(renderSVG.drawToString(_qr(text, size)))
    return svg[svg.index("<svg") :]


def _qr(url: str, size: float) -> Drawing:
    # Level M survives a creased or stamped paper better than reportlab's default L.
    widget = QrCodeWidget(url, barWidth=size, barHeight=size, barLevel="M")
    # The renderer starts every drawing in Helvetica, which would be declared but not embedded.
    drawing = Drawing(size, size, initialFontName=_REGULAR)
    drawing.add(widget)
    return drawing


def _one_line(text: str, style: ParagraphStyle, width: float) -> Paragraph:
    """Text shrunk (down to 6 pt) to fit one line: a URL broken mid-word is hard to retype."""
    natural = pdfmetrics.stringWidth(_nfc(text), style.fontName, style.fontSize)
    size = style.fontSize if natural <= width else max(6.0, style.fontSize * width / natural)
    fitted = ParagraphStyle(f"{style.name}-fit", style, fontSize=size, leading=size * 1.3)
    return Paragraph(_x(text), fitted)


def _field(
    st: dict[str, ParagraphStyle], label: str, value: str | None, *, bold: bool = False
) -> Paragraph:
    text = _x(value or "")
    if bold and text:
        text = f"<b>{text}</b>"
    return Paragraph(f"{_x(label)}: {text}", st["body"])


def _papers_table(
    st: dict[str, ParagraphStyle], papers: Sequence[SlipPaper], width: float
) -> Table:
    rows: list[list[Paragraph]] = [
        [
            Paragraph(f"<b>{h}</b>", st["cell_center"])
            for h in ("TT", "Tên giấy tờ", "Hình thức", "Số lượng")
        ]
    ]
    for number, paper in enumerate(papers, start=1):
        rows.append(
            [
                Paragraph(str(number), st["cell_center"]),
                Paragraph(_x(paper.name), st["cell"]),
                Paragraph(_x(paper.kind), st["cell_center"]),
                Paragraph(f"{paper.quantity:02d}", st["cell_center"]),
            ]
        )
    table = Table(
        rows,
        colWidths=[9 * mm, width - 9 * mm - 29 * mm - 17 * mm, 29 * mm, 17 * mm],
        repeatRows=1,
    )
    table.setStyle(_grid())
    return table


def _hops_table(st: dict[str, ParagraphStyle], hops: Sequence[ControlHop], width: float) -> Table:
    headers = (
        "TÊN CƠ QUAN",
        "THỜI GIAN GIAO, NHẬN HỒ SƠ",
        "KẾT QUẢ GIẢI QUYẾT HỒ SƠ<br/>(Trước hạn/đúng hạn/quá hạn)",
        "GHI CHÚ",
    )
    col_widths = [width * 0.32, width * 0.34, width * 0.18, width * 0.16]
    header: list[Flowable | list[Flowable]] = [
        Paragraph(f"<b>{h}</b>", st["cell_center"]) for h in headers
    ]
    rows = [header]
    for hop in hops:
        units: list[Flowable] = [
            Paragraph(f"1. Giao: <b>{_x(hop.from_unit)}</b>", st["cell"]),
            Paragraph(f"2. Nhận: <b>{_x(hop.to_unit)}</b>", st["cell"]),
        ]
        # Room for the two hand signatures the paper form asks for on every hand-off.
        signers = Table(
            [
                [
                    Paragraph("Người giao", st["cell_center"]),
                    Paragraph("Người nhận", st["cell_center"]),
                ],
                ["", ""],
            ],
            colWidths=[col_widths[1] / 2 - 3 * mm] * 2,
            rowHeights=[None, 12 * mm],
        )
        signers.setStyle(_plain_cells())
        time_cell: list[Flowable] = [
            Paragraph(_x(format_slip_time(hop.at)), st["cell_center"]),
            signers,
        ]
        rows.append(
            [
                units,
                time_cell,
                Paragraph(f"<b>{_x(hop.outcome or '')}</b>", st["cell_center"]),
                Paragraph(_x(hop.note or ""), st["cell"]),
            ]
        )
    table = Table(rows, colWidths=col_widths, repeatRows=1)
    table.setStyle(_grid())
    return table


def _signatures(
    st: dict[str, ParagraphStyle], left: tuple[str, str], right: tuple[str, str], width: float
) -> Table:
    def block(role: str, name: str) -> list[Flowable]:
        return [
            Paragraph(f"<b>{_x(role)}</b>", st["center"]),
            Paragraph("(Ký và ghi rõ họ tên)", st["center_small"]),
            Spacer(1, 12 * mm),
            Paragraph(f"<b>{_x(name)}</b>", st["center"]),
        ]

    table = Table([[block(*left), block(*right)]], colWidths=[width / 2, width / 2])
    table.setStyle(_plain_cells())
    return table


def _grid() -> TableStyle:
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("FONTNAME", (0, 0), (-1, -1), _REGULAR),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )


def _plain_cells() -> TableStyle:
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            # Table cells default to Helvetica, which would be declared without being embedded.
            ("FONTNAME", (0, 0), (-1, -1), _REGULAR),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
    )


# --- text, fonts, time -------------------------------------------------------------------------


def _nfc(text: str) -> str:
    # reportlab does no glyph shaping: decomposed input (base letter + combining marks) would
    # print misplaced accents, while DejaVu has a precomposed glyph for every Vietnamese letter.
    return unicodedata.normalize("NFC", text)


def _x(text: str) -> str:
    """Caller text made safe for Paragraph markup."""
    return escape(_nfc(text))


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:
        # A naive time could be UTC (as stored) or local (as typed): printing either guess on a
        # legal appointment slip is worse than refusing.
        raise ValueError("naive datetime given to a slip; attach a timezone")
    return value.astimezone(LOCAL_ZONE)


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _register_fonts()
    body = ParagraphStyle("slip-body", fontName=_REGULAR, fontSize=8.5, leading=11.5)
    return {
        "body": body,
        "head": ParagraphStyle("slip-head", body, fontSize=8, leading=11, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "slip-title", body, fontName=_BOLD, fontSize=11, leading=15, alignment=TA_CENTER
        ),
        "center": ParagraphStyle("slip-center", body, alignment=TA_CENTER),
        "center_small": ParagraphStyle(
            "slip-center-small", body, fontSize=7.5, leading=10, alignment=TA_CENTER
        ),
        "note": ParagraphStyle("slip-note", body, fontSize=8, leading=11, alignment=TA_JUSTIFY),
        "cell": ParagraphStyle("slip-cell", body, fontSize=8.5, leading=11),
        "cell_center": ParagraphStyle(
            "slip-cell-center", body, fontSize=8.5, leading=11, alignment=TA_CENTER
        ),
    }


def _register_fonts() -> None:
    # Base-14 PDF fonts have no Vietnamese glyphs; the shipped TTF is embedded (subset) instead.
    pdfmetrics.registerFont(TTFont(_REGULAR, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    # No italic face is shipped (repo size), so <i> falls back to upright rather than failing.
    pdfmetrics.registerFontFamily(
        _REGULAR, normal=_REGULAR, bold=_BOLD, italic=_REGULAR, boldItalic=_BOLD
    )
