"""The two signatures of Decree 30/2020 on the PDF: made by the composer's signing step, checked
by pyHanko at intake and by an independent checker (poppler's pdfsig), and turned red by every
kind of bad signature without losing the document."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import compose, pdfcheck, pdfsign
from lienthong.exchange.clerk_models import PdfSignatureCheck
from lienthong.exchange.models import Document, DocumentAttachment
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.pki import FileKeyStore, SigningIdentity, issue
from lienthong.runtime import Runtime

from .conftest import HONG_GAI, SNV

SIGNER = pdfsign.Person("Nguyễn Văn An", "Giám đốc", SNV)


def real_pdf(pages: int = 1, text: str = "Về việc thử nghiệm") -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for number in range(pages):
        page.drawString(72, 760, f"{text} {number + 1}")
        page.showPage()
    page.save()
    return buffer.getvalue()


def _signed(keys: FileKeyStore, code: str = SNV, person: pdfsign.Person = SIGNER) -> bytes:
    agency = keys.ensure_agency(code, "Sở Nội vụ")
    return pdfsign.sign_document(
        real_pdf(),
        person=pdfsign.FilePersonKeys(keys).person_identity(person),
        agency=agency,
        signature_image=pdfsign.default_signature_image(person.full_name),
        seal_image=pdfsign.default_seal_image("Sở Nội vụ"),
    )


def _verdict(data: bytes, keys: FileKeyStore, sender: str = SNV) -> pdfcheck.Verdict:
    return pdfcheck.validate(io.BytesIO(data), keys=keys, sender_code=sender, main=True)


def test_composer_signs_twice_and_the_receiver_sees_both_green(db: Session, keyed: Runtime) -> None:
    draft = compose.Draft(
        recipients=[HONG_GAI],
        subject="Về việc ký số hai lần",
        type_name="Quyết định",
        signer="Nguyễn Văn An",
        signer_title="Giám đốc",
        sign_pdfs=True,
        uploads=[
            compose.Upload("quyet-dinh.pdf", io.BytesIO(real_pdf(2))),
            compose.Upload("phu-luc.pdf", io.BytesIO(real_pdf())),
        ],
    )
    answer = compose.send(db, keyed, sender_code=SNV, draft=draft)
    document = db.get_one(Document, answer["id"])
    checks = list(
        db.scalars(select(PdfSignatureCheck).where(PdfSignatureCheck.document_fk == document.id))
    )
    assert [c.state for c in checks] == ["green", "green"], [c.reason_en for c in checks]
    main, appendix = checks
    assert [s["role"] for s in main.signatures] == ["person", "agency"]
    assert main.signatures[0]["signer"] == "Nguyễn Văn An"
    assert main.signatures[0]["title"] == "Giám đốc"
    assert main.signatures[1]["agency_code"] == SNV
    assert main.signatures[1]["covers_whole"] is True
    assert [s["role"] for s in appendix.signatures] == ["agency"]
    assert pdfcheck.summary(checks)["state"] == "green"
    attachment = db.get_one(DocumentAttachment, main.attachment_fk)
    with keyed.blobs.open(attachment.blob_sha256) as handle:
        data = handle.read()
    # Rendered, the seal (red) lies over the left third of the signature (blue) on the last page.
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument(data)
    pdf.init_forms()  # signature appearances are widgets: drawn only with the forms
    image = pdf[len(pdf) - 1].render(scale=1, may_draw_forms=True).to_pil().convert("RGB")
    x0, y0, x1, y1 = pdfsign.Place().box
    height = image.height
    left_third = image.crop((x0, height - y1, x0 + (x1 - x0) // 3, height - y0))
    right_part = image.crop((x0 + (x1 - x0) // 2, height - y1, x1, height - y0))
    assert _count(left_third, red=True) > 50
    assert _count(right_part, red=False) > 50
    assert _count(right_part, red=True) == 0
    pdf.close()


def _count(image: Image.Image, *, red: bool) -> int:
    pixels: list[tuple[int, int, int]] = list(image.get_flattened_data())  # type: ignore[arg-type]
    if red:
        return sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)
    return sum(1 for r, g, b in pixels if b > 150 and r < 90)


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) missing")
def test_an_independent_checker_agrees(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path / "keys")
    path = tmp_path / "signed.pdf"
    path.write_bytes(_signed(keys))
    report = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert report.count("Signature is Valid.") == 2, report
    assert "Total document signed" in report
    assert "UID=000.00.02.H49,title=Giám đốc,CN=Nguyễn Văn An" in report
    tampered = bytearray(path.read_bytes())
    tampered[len(tampered) // 3] ^= 0x01
    path.write_bytes(bytes(tampered))
    report = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert "Signature is Valid." not in report.split("Signature #2")[-1]


def test_one_byte_changed_turns_red(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path / "keys")
    data = bytearray(_signed(keys))
    assert _verdict(bytes(data), keys).state == "green"
    data[len(real_pdf()) // 2] ^= 0x01
    verdict = _verdict(bytes(data), keys)
    assert (verdict.state, verdict.reason_code) == ("red", "pdf_signature_broken")


def test_a_signature_of_another_agency_is_flagged(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path / "keys")
    data = _signed(keys, code=HONG_GAI, person=pdfsign.Person("Lê Thị Bình", "Chủ tịch", HONG_GAI))
    verdict = _verdict(data, keys, sender=SNV)
    assert (verdict.state, verdict.reason_code) == ("red", "pdf_signature_other_agency")
    assert "000.00.84.H49" in (verdict.reason_en or "")


def test_revoked_expired_untrusted_and_codeless_certificates(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path / "keys")
    data = _signed(keys)
    identity = keys.identity(SNV)
    assert identity is not None
    keys.revoke(identity.chain[0], identity.chain[1])
    assert _verdict(data, keys).reason_code == "pdf_signature_revoked"

    ca_key, ca_cert = keys.ensure_ca()
    old_key, old = issue(
        ca_key,
        ca_cert,
        common_name="Sở cũ",
        agency_code=SNV,
        days=1,
        not_before=utcnow() - timedelta(days=5),
    )
    agency = SigningIdentity(old_key, (old, ca_cert))
    expired = pdfsign.sign_attachment(real_pdf(), agency=agency, first_line="01/SNV")
    verdict = pdfcheck.validate(io.BytesIO(expired), keys=keys, sender_code=SNV, main=False)
    assert verdict.state == "red"
    assert verdict.reason_code in {"pdf_signature_expired", "pdf_signature_untrusted"}

    stranger = FileKeyStore(tmp_path / "stranger")
    foreign = pdfsign.sign_attachment(
        real_pdf(), agency=stranger.ensure_agency(SNV, "Giả mạo"), first_line="01/SNV"
    )
    verdict = pdfcheck.validate(io.BytesIO(foreign), keys=keys, sender_code=SNV, main=False)
    assert verdict.reason_code == "pdf_signature_untrusted"

    nameless_key, nameless = issue(ca_key, ca_cert, common_name="Không mã", agency_code=None)
    codeless = pdfsign.sign_attachment(
        real_pdf(), agency=SigningIdentity(nameless_key, (nameless, ca_cert)), first_line="x"
    )
    verdict = pdfcheck.validate(io.BytesIO(codeless), keys=keys, sender_code=SNV, main=False)
    assert verdict.reason_code == "pdf_signature_no_agency_code"


def test_content_added_after_the_signature_is_partial(tmp_path: Path) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    keys = FileKeyStore(tmp_path / "keys")
    data = _signed(keys)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0]
    stream = generic.StreamObject(stream_data=b"BT /F1 30 Tf 72 400 Td (THEM) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    verdict = _verdict(out.getvalue(), keys)
    assert (verdict.state, verdict.reason_code) == ("red", "pdf_signature_partial")


def test_unsigned_broken_and_encrypted_pdfs(tmp_path: Path) -> None:
    keys = FileKeyStore(tmp_path / "keys")
    keys.ensure_ca()
    assert _verdict(real_pdf(), keys).reason_code == "pdf_unsigned"
    assert _verdict(real_pdf(), keys).state == "amber"
    assert _verdict(b"PK\x03\x04 not a pdf", keys).reason_code == "pdf_unreadable"
    assert _verdict(b"%PDF-1.4\ngarbage", keys).reason_code == "pdf_unreadable"
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(real_pdf())))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert _verdict(buffer.getvalue(), keys).reason_code == "pdf_encrypted"
    with pytest.raises(AppError) as caught:
        pdfsign.sign_attachment(
            buffer.getvalue(), agency=keys.ensure_agency(SNV, "Sở Nội vụ"), first_line="x"
        )
    assert caught.value.code == "pdf_encrypted"
    with pytest.raises(AppError) as caught:
        pdfsign.sign_attachment(
            b"hello", agency=keys.ensure_agency(SNV, "Sở Nội vụ"), first_line="x"
        )
    assert caught.value.code == "pdf_unreadable"
    # Only the person's signature: the agency's is missing (amber), the document is kept.
    person = pdfsign.FilePersonKeys(keys).person_identity(SIGNER)
    only = pdfsign.sign_attachment(real_pdf(), agency=person, first_line="x")
    verdict = _verdict(only, keys)
    assert (verdict.state, verdict.reason_code) == ("amber", "pdf_signature_missing")


def _png(mode: str, colour: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (40, 40), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_seal_and_signature_images_are_checked(keyed: Runtime) -> None:
    for data, code in (
        (b"not an image", "image_invalid"),
        (_png("RGB", (255, 0, 0)), "image_not_transparent"),
        (_png("RGBA", (255, 0, 0, 255)), "image_not_transparent"),
    ):
        with pytest.raises(AppError) as caught:
            pdfsign.save_image(keyed, data, agency_code=SNV)
        assert caught.value.code == code
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, format="JPEG")
    with pytest.raises(AppError) as caught:
        pdfsign.save_image(keyed, jpeg.getvalue(), agency_code=SNV)
    assert caught.value.code == "image_not_png"
    seal = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    seal.putpixel((20, 20), (255, 0, 0, 255))
    buffer = io.BytesIO()
    seal.save(buffer, format="PNG")
    path = pdfsign.save_image(keyed, buffer.getvalue(), agency_code=HONG_GAI)
    assert path.exists()
    assert pdfsign.seal_image(keyed, agency_code=HONG_GAI, agency_name="x").size == (40, 40)
    path.unlink()


def test_signing_needs_a_signer(db: Session, keyed: Runtime) -> None:
    draft = compose.Draft(
        recipients=[HONG_GAI],
        subject="Không người ký",
        sign_pdfs=True,
        uploads=[compose.Upload("a.pdf", io.BytesIO(real_pdf()))],
    )
    with pytest.raises(AppError) as caught:
        compose.send(db, keyed, sender_code=SNV, draft=draft)
    assert caught.value.code == "missing_signer"


def test_persons_keys_need_a_key_store_that_has_them() -> None:
    from types import SimpleNamespace

    with pytest.raises(AppError) as caught:
        pdfsign.person_keys(SimpleNamespace(keys=object()))  # type: ignore[arg-type]
    assert caught.value.code == "person_keys_unavailable"


def test_the_node_time_stamps_its_signatures_and_answers_rfc3161(
    db: Session, keyed: Runtime, client: TestClient
) -> None:
    import hashlib

    from asn1crypto import tsp

    from lienthong.accounts.models import Role
    from tests.conftest import signed_in

    draft = compose.Draft(
        recipients=[HONG_GAI],
        subject="Có dấu thời gian",
        signer="Nguyễn Văn An",
        signer_title="Giám đốc",
        sign_pdfs=True,
        uploads=[compose.Upload("a.pdf", io.BytesIO(real_pdf()))],
    )
    answer = compose.send(db, keyed, sender_code=SNV, draft=draft)
    check = db.scalars(
        select(PdfSignatureCheck).where(PdfSignatureCheck.document_fk == answer["id"])
    ).one()
    assert check.state == "green", check.reason_en
    assert all(s["timestamp"] for s in check.signatures), check.signatures
    db.commit()

    signed_in(client, db, username="clerk.tsa", role=Role.CLERK, agency=SNV)
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"van ban").digest(),
            },
            "nonce": 12345,
            "cert_req": True,
        }
    ).dump()
    reply = client.post(
        "/tsa", content=query, headers={"Content-Type": "application/timestamp-query"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/timestamp-reply"
    response = tsp.TimeStampResp.load(reply.content)
    assert response["status"]["status"].native == "granted"
    info = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 12345
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"van ban").digest()
    bad = client.post(
        "/tsa", content=b"not DER", headers={"Content-Type": "application/timestamp-query"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "tsa_request_invalid"
    large = client.post(
        "/tsa", content=b"0" * (65 * 1024), headers={"Content-Type": "application/timestamp-query"}
    )
    assert large.status_code == 413
    assert large.json()["error"]["code"] == "tsa_request_too_large"


def test_no_time_stamping_without_a_key_store_that_can() -> None:
    from types import SimpleNamespace

    from lienthong.exchange import tsa

    runtime = SimpleNamespace(keys=object(), settings=SimpleNamespace(tsa_url=""))
    with pytest.raises(AppError) as caught:
        tsa.stamper(runtime)  # type: ignore[arg-type]
    assert caught.value.code == "tsa_unavailable"


def test_the_logs_checkpoints_are_time_stamped(db: Session, keyed: Runtime) -> None:
    from lienthong.exchange import log, tsa
    from lienthong.exchange.clerk_models import CheckpointTimestamp

    compose.send(
        db,
        keyed,
        sender_code=SNV,
        draft=compose.Draft(
            recipients=[HONG_GAI],
            subject="Cho nhật ký",
            uploads=[compose.Upload("a.pdf", io.BytesIO(real_pdf()))],
        ),
    )
    mark = log.checkpoint(db, keys=keyed.keys)
    assert mark is not None
    stamp = tsa.stamp_checkpoint(db, keyed, mark)
    assert tsa.stamp_checkpoint(db, keyed, mark) is stamp  # once per checkpoint
    assert db.get(CheckpointTimestamp, mark.id) is stamp
    assert abs((stamp.gen_time - utcnow()).total_seconds()) < 300
    assert tsa.verify_checkpoint_stamp(keyed, mark, stamp)
    from types import SimpleNamespace

    stranger = FileKeyStore(Path(str(keyed.settings.key_dir)) / "stranger")
    stranger.ensure_ca()
    elsewhere = SimpleNamespace(keys=stranger, settings=keyed.settings)
    assert not tsa.verify_checkpoint_stamp(elsewhere, mark, stamp)  # type: ignore[arg-type]
    mark.entry_hash = "0" * 64  # another head: the token no longer covers it
    assert not tsa.verify_checkpoint_stamp(keyed, mark, stamp)
