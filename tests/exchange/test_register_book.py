"""The registers as the clerk reads them: every received document takes the next number of
its recipient's incoming register; an agency's own numbers are never reused in a year (409);
the registers are listed, filtered, paged, exported as CSV and printed as PDF; the receiver
sees the PDF signatures in the API's document metadata and on the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.exchange import compose, pdfcheck
from lienthong.exchange.clerk_models import RegisterEntry
from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import AppError
from lienthong.registry import service as registry
from lienthong.runtime import Runtime
from tests.conftest import signed_in

from .conftest import HA_LONG, HONG_GAI, SNV, Software, draft_package, send, signed
from .test_pdfsign import real_pdf


def _send(db: Session, runtime: Runtime, to: list[str], subject: str, **fields: object) -> int:
    draft = compose.Draft(
        recipients=to,
        subject=subject,
        uploads=[compose.Upload("van-ban.pdf", io.BytesIO(real_pdf()))],
        **fields,  # type: ignore[arg-type]
    )
    answer = compose.send(db, runtime, sender_code=SNV, draft=draft)
    db.commit()
    return int(answer["id"])


def test_each_recipient_numbers_its_arrivals(db: Session, keyed: Runtime) -> None:
    first = _send(db, keyed, [HONG_GAI, HA_LONG], "Văn bản một")
    second = _send(db, keyed, [HONG_GAI], "Văn bản hai")
    third = _send(db, keyed, [HA_LONG], "Văn bản ba")
    year = local_today().year

    def book(code: str, kind: str) -> list[tuple[str, int]]:
        agency = registry.get_agency(db, code=code)
        return [
            (e.number, e.document_fk)
            for e in db.scalars(
                select(RegisterEntry)
                .where(
                    RegisterEntry.agency_id == agency.id,
                    RegisterEntry.book == kind,
                    RegisterEntry.year == year,
                )
                .order_by(RegisterEntry.id)
            )
        ]

    assert book(HONG_GAI, "incoming") == [("01", first), ("02", second)]
    assert book(HA_LONG, "incoming") == [("01", first), ("02", third)]
    assert book(SNV, "outgoing") == [("01", first), ("02", second), ("03", third)]


def test_an_agency_number_is_not_used_twice_in_a_year(
    db: Session, keyed: Runtime, client: TestClient, software: Callable[[str], Software]
) -> None:
    sw = software(SNV)
    first = draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="15", notation="SNV-VP")
    assert send(client, sw, signed(keyed, first)).status_code == 202  # type: ignore[attr-defined]
    again = draft_package(
        db, keyed, sender=SNV, to=[HONG_GAI], subject="Khác", number="15", notation="SNV-VP"
    )
    again = again.__class__(**{**again.__dict__, "document_id": "another-id"})
    answer = send(client, sw, signed(keyed, again))
    assert answer.status_code == 409, answer.text  # type: ignore[attr-defined]
    assert answer.json()["error"]["code"] == "register_number_reused"  # type: ignore[attr-defined]
    # The same number with another notation is another document; and the register's counter
    # went past the agency's own 15, so the composer gives 16 next.
    other = draft_package(
        db, keyed, sender=SNV, to=[HONG_GAI], subject="Khác", number="15", notation="QĐ-SNV"
    )
    other = other.__class__(**{**other.__dict__, "document_id": "third-id"})
    assert send(client, sw, signed(keyed, other)).status_code == 202  # type: ignore[attr-defined]
    db.expire_all()
    composed = _send(db, keyed, [HONG_GAI], "Soạn trên nút")
    entry = db.scalars(select(RegisterEntry).where(RegisterEntry.document_fk == composed)).first()
    assert entry is not None
    assert entry.number == "16"


def test_registers_listed_filtered_exported_and_printed(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    for n in range(3):
        _send(db, keyed, [HONG_GAI], f"Kế hoạch số {n}", type_name="Kế hoạch")
    _send(db, keyed, [HA_LONG], "Báo cáo tháng", type_name="Báo cáo")
    signed_in(client, db, username="clerk.snv", role=Role.CLERK, agency=SNV)
    page = client.get("/api/v1/registers/outgoing", params={"page_size": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], len(body["items"]), body["next_number"]) == (4, 2, "05")
    assert [i["number"] for i in body["items"]] == ["01", "02"]
    assert body["items"][0]["code_notation"] == "KH-SNV"
    assert body["items"][0]["recipients"] == [HONG_GAI]
    assert body["items"][0]["pdf_state"] == "amber"  # an unsigned PDF
    second = client.get("/api/v1/registers/outgoing", params={"page_size": 2, "page": 2}).json()
    assert [i["number"] for i in second["items"]] == ["03", "04"]
    found = client.get("/api/v1/registers/outgoing", params={"q": "Báo cáo"}).json()
    assert [i["subject"] for i in found["items"]] == ["Báo cáo tháng"]
    found = client.get("/api/v1/registers/outgoing", params={"other": HA_LONG}).json()
    assert found["total"] == 1
    assert client.get("/api/v1/registers/outgoing", params={"year": 2001}).json()["total"] == 0

    exported = client.get("/api/v1/registers/outgoing/export.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Số, ký hiệu văn bản"
    assert [r[0] for r in rows[1:]] == ["01/KH-SNV", "02/KH-SNV", "03/KH-SNV", "04/BC-SNV"]

    printed = client.get("/api/v1/registers/outgoing/register.pdf")
    assert printed.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(printed.content)).pages)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in text
    assert "04/BC-SNV" in text

    signed_in(client, db, username="clerk.hg", role=Role.CLERK, agency=HONG_GAI)
    incoming = client.get("/api/v1/registers/incoming").json()
    assert [(i["number"], i["sender_code"]) for i in incoming["items"]] == [
        ("01", SNV),
        ("02", SNV),
        ("03", SNV),
    ]
    assert client.get("/api/v1/registers/incoming", params={"other": HA_LONG}).json()["total"] == 0
    # Another agency's register is not this clerk's.
    refused = client.get("/api/v1/registers/outgoing", params={"agency": SNV})
    assert refused.status_code == 403


def test_notation_and_images_through_the_api(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    signed_in(client, db, username="clerk.notation", role=Role.CLERK, agency=SNV)
    answer = client.put("/api/v1/registers/notation", json={"abbreviation": "SNVQN"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["example"] == "07/QĐ-SNVQN"
    opaque = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (20, 20), (200, 0, 0)).save(opaque, format="PNG")
    refused = client.put(
        "/api/v1/signing/seal", content=opaque.getvalue(), headers={"Content-Type": "image/png"}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "image_not_transparent"
    seal = io.BytesIO()
    clear = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    clear.putpixel((5, 5), (220, 0, 0, 255))
    clear.save(seal, format="PNG")
    saved = client.put(
        "/api/v1/signing/signature",
        params={"name": "Người Thử Ảnh", "title": "Chuyên viên"},
        content=seal.getvalue(),
        headers={"Content-Type": "image/png"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"agency": SNV, "kind": "signature", "width": 30, "height": 30}
    from lienthong.exchange import pdfsign

    person = pdfsign.Person("Người Thử Ảnh", "Chuyên viên", SNV)
    assert pdfsign.signature_image(keyed, person).size == (30, 30)  # the uploaded one is used
    pdfsign._image_path(keyed, SNV, person).unlink()  # the key folder outlives this test
    too_big = client.put(
        "/api/v1/signing/seal",
        content=b"\x89PNG" + b"0" * (2 * 1024 * 1024 + 10),
        headers={"Content-Type": "image/png"},
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "image_too_large"


def test_the_receiver_sees_the_signatures(db: Session, keyed: Runtime, client: TestClient) -> None:
    document = _send(
        db,
        keyed,
        [HONG_GAI],
        "Quyết định có hai chữ ký",
        type_name="Quyết định",
        signer="Trần Thị Hoa",
        signer_title="Phó Giám đốc",
        competence="KT.",
        sign_pdfs=True,
    )
    signed_in(client, db, username="clerk.receiver", role=Role.CLERK, agency=HONG_GAI)
    detail = client.get(f"/api/v1/documents/{document}").json()
    summary = detail["pdf_signatures"]
    assert summary["state"] == "green"
    assert [s["role"] for s in summary["files"][0]["signatures"]] == ["person", "agency"]
    assert client.get(f"/api/v1/documents/{document}/signatures").json() == summary
    page = client.get(f"/documents/{document}")
    assert "Trần Thị Hoa" in page.text
    assert "Phó Giám đốc" in page.text
    assert 'data-state="green"' in page.text


def test_a_failed_signature_is_received_and_returned_in_one_click(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    import re

    from lienthong.exchange import pdfsign
    from lienthong.exchange.models import Delivery
    from tests.accounts.test_signin import csrf_from

    foreign = keyed.keys.identity(HONG_GAI)
    assert foreign is not None
    pdf = pdfsign.sign_attachment(real_pdf(), agency=foreign, first_line="09/UBND")
    draft = compose.Draft(
        recipients=[HA_LONG],
        subject="Chữ ký của cơ quan khác",
        uploads=[compose.Upload("van-ban.pdf", io.BytesIO(pdf))],
    )
    document = compose.send(db, keyed, sender_code=SNV, draft=draft)["id"]
    db.commit()
    signed_in(client, db, username="clerk.halong", role=Role.CLERK, agency=HA_LONG)
    page = client.get(f"/documents/{document}").text
    assert 'data-state="red"' in page
    assert "pdf_signature_other_agency" in page
    assert 'data-testid="return-invalid"' in page
    reason = re.search(r'name="description" value="(Trả lại văn bản: [^"]+)"', page)
    assert reason is not None
    answer = client.post(
        f"/documents/{document}/status",
        data={"code": "02", "description": reason.group(1), "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    db.expire_all()
    delivery = db.scalars(select(Delivery).where(Delivery.document_fk == document)).one()
    assert delivery.status_code == "02"


def test_the_checker_reports_the_pdf_signatures_and_the_header(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    import dataclasses

    from lienthong.exchange import pdfsign

    foreign = keyed.keys.identity(HONG_GAI)
    assert foreign is not None
    draft = compose.Draft(
        recipients=[HONG_GAI],
        subject="Kiểm tra chữ ký PDF",
        code_number="33",
        code_notation="SNV-VP",
        uploads=[
            compose.Upload(
                "a.pdf",
                io.BytesIO(pdfsign.sign_attachment(real_pdf(), agency=foreign, first_line="x")),
            )
        ],
    )
    package = compose.build(db, keyed, sender_code=SNV, draft=draft)
    package = dataclasses.replace(package, document_id=f"{SNV},2026/12/03,33/SNV-VP")
    report = client.post("/api/v1/edxml/validate", content=signed(keyed, package)).json()
    assert report["valid"] is True  # a PDF signature problem is a warning: it is received
    assert report["header"]["code_number"] == "33"
    assert report["header"]["code_notation"] == "SNV-VP"
    assert report["header"]["attachments"][0]["name"] == "a.pdf"
    pdf = report["header"]["pdf_signatures"]["cid:1"]
    assert (pdf["state"], pdf["reason_code"]) == ("red", "pdf_signature_other_agency")
    assert any(p["code"] == "pdf_signature_other_agency" for p in report["problems"])
    page = client.post(
        "/edxml/validate",
        files={"package": ("goi.edxml", signed(keyed, package), "application/xml")},
    ).text
    assert 'data-testid="checker-pdf"' in page
    assert "badge sig-red" in page


def test_the_demo_sends_one_signed_numbered_decision(db: Session, keyed: Runtime) -> None:
    from lienthong.exchange.clerk_models import PdfSignatureCheck
    from lienthong.exchange.demo_documents import seed_demo_documents

    assert seed_demo_documents(db, keyed) == 1
    assert seed_demo_documents(db, keyed) == 0
    states = list(db.scalars(select(PdfSignatureCheck.state)))
    assert states == ["green", "green"]


def test_an_electronic_copy_is_signed_registered_and_sent(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    from lienthong.exchange import copies
    from lienthong.exchange.clerk_models import PdfSignatureCheck
    from lienthong.exchange.models import DocumentAttachment

    assert frozenset(copies.FORMS.values()) == pdfcheck.COPY_TYPES
    original = _send(
        db,
        keyed,
        [HONG_GAI],
        "Quyết định gốc",
        type_name="Quyết định",
        signer="Trần Thị Hoa",
        signer_title="Giám đốc",
        sign_pdfs=True,
    )
    signed_in(client, db, username="clerk.copier", role=Role.CLERK, agency=HONG_GAI)
    answer = client.post(
        f"/api/v1/documents/{original}/copies",
        json={"form": "SAO Y", "recipients": [HA_LONG]},
    )
    assert answer.status_code == 202, answer.text
    copy = answer.json()["id"]
    db.expire_all()
    entry = db.scalars(
        select(RegisterEntry).where(
            RegisterEntry.document_fk == copy, RegisterEntry.book == "outgoing"
        )
    ).one()
    assert entry.notation == "SY-UBND"
    check = db.scalars(select(PdfSignatureCheck).where(PdfSignatureCheck.document_fk == copy)).one()
    assert check.state == "green", check.reason_en
    assert [s["agency_code"] for s in check.signatures] == [SNV, SNV, HONG_GAI]
    attachment = db.get_one(DocumentAttachment, check.attachment_fk)
    assert attachment.name is not None
    assert attachment.name.startswith("sao-y-")
    refused = client.post(
        f"/api/v1/documents/{original}/copies", json={"form": "SAO CHÉP", "recipients": [HA_LONG]}
    )
    assert refused.status_code == 422
    with pytest.raises(AppError) as caught:
        copies.make_copy(
            db, keyed, document_pk=original, agency_code=HONG_GAI, form="SAO CHÉP", recipients=[]
        )
    assert caught.value.code == "copy_form_unknown"
    with pytest.raises(AppError) as caught:
        copies.make_copy(
            db,
            keyed,
            document_pk=original,
            agency_code=HONG_GAI,
            form="SAO Y",
            recipients=[HA_LONG],
            position=7,
        )
    assert caught.value.code == "unknown_attachment"


def test_a_copy_from_the_document_page(db: Session, keyed: Runtime, client: TestClient) -> None:
    import re

    from tests.accounts.test_signin import csrf_from

    original = _send(db, keyed, [HONG_GAI], "Gốc để sao từ trang")
    signed_in(client, db, username="clerk.page.copy", role=Role.CLERK, agency=HONG_GAI)
    page = client.get(f"/documents/{original}").text
    assert 'data-testid="make-copy"' in page
    answer = client.post(
        f"/documents/{original}/copy",
        data={"form": "TRÍCH SAO", "recipient": HA_LONG, "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    copy = int(re.findall(r"/documents/(\d+)", answer.headers["location"])[0])
    db.expire_all()
    notation = db.scalars(
        select(RegisterEntry.notation).where(
            RegisterEntry.document_fk == copy, RegisterEntry.book == "outgoing"
        )
    ).one()
    assert notation == "TrS-UBND"
