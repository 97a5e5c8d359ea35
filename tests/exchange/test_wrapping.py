"""Only what the signature covers becomes a document, an attachment or a status: every
signature-wrapping variant is refused, with nothing stored, on every entry point."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange.models import Document, DocumentAttachment
from lienthong.runtime import Runtime
from tests.fixtures.wrapping import variants

from .conftest import HONG_GAI, PDF, SNV, Software, draft_package, send, signed
from .test_flow import counts
from .test_vdxp import Sdk

NAMES = [
    "object_in_signature",
    "attachment_in_signature",
    "edxml_in_signature",
    "second_signature_in_header",
    "signature_in_message_header",
    "attachment_after_signature",
    "second_attachment_section",
    "reference_to_another_uri",
    "two_references",
    "duplicated_content_ids",
]


@pytest.fixture
def wrapped(db: Session, keyed: Runtime) -> dict[str, tuple[bytes, str]]:
    package = draft_package(db, keyed, sender=SNV, to=[HONG_GAI])
    identity = keyed.keys.identity(SNV)
    assert identity is not None
    found = variants(signed(keyed, package), package, keyed.blobs, identity)
    assert sorted(found) == sorted(NAMES)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_native_api_refuses_and_stores_nothing(
    name: str,
    wrapped: dict[str, tuple[bytes, str]],
    client: TestClient,
    db: Session,
    software: Callable[[str], Software],
) -> None:
    body, code = wrapped[name]
    before = counts(db)
    response = send(client, software(SNV), body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert counts(db) == before


@pytest.mark.parametrize("name", NAMES)
def test_sdk_endpoint_refuses(
    name: str,
    wrapped: dict[str, tuple[bytes, str]],
    client: TestClient,
    db: Session,
    software: Callable[[str], Software],
) -> None:
    body, code = wrapped[name]
    before = counts(db)
    answer = Sdk(client, software(SNV)).send(body)
    assert answer.json()["status"] == "FAIL", answer.text
    assert answer.json()["ErrorCode"] == code
    assert counts(db) == before


@pytest.mark.parametrize("name", NAMES)
def test_checker_reports_it(
    name: str, wrapped: dict[str, tuple[bytes, str]], client: TestClient
) -> None:
    body, code = wrapped[name]
    report = client.post("/api/v1/edxml/validate", content=body).json()
    assert report["valid"] is False
    assert code in {p["code"] for p in report["problems"]}


def test_the_genuine_package_stores_the_signed_attachment(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    response = send(client, software(SNV), body)
    assert response.status_code == 202, response.text
    document = db.get_one(Document, response.json()["id"])
    assert document.signature == "verified"
    stored = db.scalars(
        select(DocumentAttachment).where(DocumentAttachment.document_fk == document.id)
    ).one()
    assert stored.blob_sha256 == hashlib.sha256(PDF).hexdigest()


def test_checker_shows_how_it_read_the_package(
    client: TestClient, db: Session, keyed: Runtime
) -> None:
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="07"))
    report = client.post("/api/v1/edxml/validate", content=body).json()
    assert report["valid"] is True, report["problems"]
    header = report["header"]
    assert header["from"]["code"] == SNV
    assert [o["code"] for o in header["to"]] == [HONG_GAI]
    assert (header["code_number"], header["code_notation"]) == ("07", "SNV-VP")
    assert header["subject"] == "Về việc thử nghiệm"
    assert header["sha256"] == hashlib.sha256(body).hexdigest()
    assert header["size"] == len(body)
    (attachment,) = header["attachments"]
    assert attachment == {
        "content_id": "cid:1",
        "name": "to-trinh.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    assert header["signer"]["agency_code"] == SNV
    assert header["signer"]["verified"] is True
    # A tampered package is read and shown too, with the signature not verified.
    tampered = client.post(
        "/api/v1/edxml/validate", content=body.replace("Về việc".encode(), b"Ve viec", 1)
    ).json()
    assert tampered["header"]["subject"] == "Ve viec thử nghiệm"
    assert tampered["header"]["signer"]["verified"] is False
    page = client.post(
        "/edxml/validate", files={"package": ("goi.edxml", body, "application/xml")}
    ).text
    assert "Nút đã đọc gói tin như sau" in page
    assert "07/SNV-VP" in page
