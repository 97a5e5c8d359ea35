"""The demo's documents: a decision of Sở Nội vụ to phường Hồng Gai, numbered from the register
and signed by the director and the agency, so that the registers and the receiver's view of
both signatures have something to show. Sent once: a second run finds it in the register."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import compose, register_book
from lienthong.exchange.clerk_models import RegisterEntry
from lienthong.registry import service as registry
from lienthong.runtime import Runtime

SENDER, RECIPIENT = "000.00.02.H49", "000.00.84.H49"  # Sở Nội vụ, phường Hồng Gai


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page A4 document in the Decree 30 layout, enough to sign and show."""
    font = register_book.font_name()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setFont(font, 12)
    page.drawString(60, 790, "UBND TỈNH QUẢNG NINH")
    page.drawString(60, 774, "SỞ NỘI VỤ")
    page.drawString(330, 790, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    page.drawString(370, 774, "Độc lập - Tự do - Hạnh phúc")
    page.setFont(font, 14)
    width = pdfmetrics.stringWidth(title, font, 14)
    page.drawString((A4[0] - width) / 2, 700, title)
    page.setFont(font, 12)
    for row, line in enumerate(lines):
        page.drawString(72, 660 - row * 18, line)
    page.drawString(380, 230, "GIÁM ĐỐC")
    page.drawString(370, 130, "Nguyễn Văn Minh")
    page.showPage()
    page.save()
    return buffer.getvalue()


def seed_demo_documents(session: Session, runtime: Runtime) -> int:
    """Send the demo's signed documents unless the sender's register already has some."""
    sender = registry.get_agency(session, code=SENDER)
    if session.scalars(select(RegisterEntry).where(RegisterEntry.agency_id == sender.id)).first():
        return 0
    draft = compose.Draft(
        recipients=[RECIPIENT],
        subject="Về việc thử nghiệm văn bản điện tử có hai chữ ký số",
        type_name="Quyết định",
        signer="Nguyễn Văn Minh",
        signer_title="Giám đốc",
        sign_pdfs=True,
        uploads=[
            compose.Upload(
                "quyet-dinh.pdf",
                io.BytesIO(
                    demo_pdf(
                        "QUYẾT ĐỊNH",
                        ["Về việc thử nghiệm văn bản điện tử có hai chữ ký số.", "Điều 1. …"],
                    )
                ),
            ),
            compose.Upload(
                "phu-luc.pdf", io.BytesIO(demo_pdf("PHỤ LỤC", ["Danh sách kèm theo Quyết định."]))
            ),
        ],
    )
    compose.send(session, runtime, sender_code=SENDER, draft=draft)
    return 1
