"""Each bad package gets a 4xx with a stable code, and nothing is half-stored."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from lienthong.exchange.edxml.reader import read_bytes
from lienthong.kernel.errors import AppError
from lienthong.runtime import Runtime
from tests.fixtures import EDXML_REFERENCE

from .conftest import HONG_GAI, SNV, Software, draft_package, send, signed, unsigned
from .test_flow import counts


@pytest.fixture
def snv(software: Callable[[str], Software]) -> Software:
    return software(SNV)


def refused(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_each_bad_package(client: TestClient, db: Session, keyed: Runtime, snv: Software) -> None:
    good = draft_package(db, keyed, sender=SNV, to=[HONG_GAI])
    body = signed(keyed, good)
    before = counts(db)
    cases = [
        (b"this is not xml", 422, "not_xml"),
        (b"<edXML xmlns='urn:wrong'/>", 422, "wrong_namespace"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><edXML/>", 422, "dtd_forbidden"),
        (
            body.replace(b"<edXML:DocumentId>", b"<edXML:Other>", 1).replace(
                b"</edXML:DocumentId>", b"</edXML:Other>", 1
            ),
            422,
            "missing_document_id",
        ),
        (re.sub(rb"<edXML:To>.*?</edXML:To>", b"", body, flags=re.S), 422, "missing_to"),
        (body.replace("Về việc".encode(), b"Ve viec", 1), 422, "bad_signature"),
        (signed(keyed, dataclasses.replace(good, manifest=[])), 422, "attachment_mismatch"),
        (signed(keyed, good).replace(b">JVBER", b">JV!!R", 1), 422, "bad_base64"),
        (
            signed(
                keyed,
                dataclasses.replace(good, from_=dataclasses.replace(good.from_, organ_id=HONG_GAI)),
                signer=HONG_GAI,
            ),
            403,
            "sender_mismatch",
        ),
        (signed(keyed, good, signer=HONG_GAI), 422, "certificate_not_for_sender"),
    ]
    for data, status, code in cases:
        refused(send(client, snv, data), status, code)
    assert counts(db) == before


def test_unsigned_package_from_a_person_needs_a_signature(
    client: TestClient, db: Session, keyed: Runtime, clerk_client: TestClient
) -> None:
    body = unsigned(keyed, draft_package(db, keyed, sender="000.00.00.H49", to=[HONG_GAI]))
    refused(clerk_client.post("/api/v1/documents", content=body), 422, "signature_required")


def test_unsigned_package_from_software_is_signed_remotely(
    client: TestClient, db: Session, keyed: Runtime, snv: Software
) -> None:
    body = unsigned(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    response = send(client, snv, body)
    assert response.status_code == 202
    detail = client.get(f"/api/v1/documents/{response.json()['id']}", headers=snv.headers).json()
    assert detail["signature"] == "remote"
    stored = client.get(
        f"/api/v1/documents/{response.json()['id']}/package", headers=snv.headers
    ).content
    assert b"<SignatureValue>" in stored
    assert read_bytes(stored).package.signature is not None


def test_oversize_package(client: TestClient, db: Session, keyed: Runtime, snv: Software) -> None:
    client.app.state.runtime.settings.max_package_bytes = 2048  # type: ignore[attr-defined]
    try:
        body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
        refused(send(client, snv, body + b" " * 4096), 413, "package_too_large")
    finally:
        client.app.state.runtime.settings.max_package_bytes = 512 * 1024 * 1024  # type: ignore[attr-defined]


def test_unauthenticated_sender(client: TestClient) -> None:
    refused(client.post("/api/v1/documents", content=b"<edXML/>"), 401, "unauthenticated")


REFERENCE_SAMPLE = (EDXML_REFERENCE / "vxp-sdk-samples" / "edoc_update.edxml").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_packages_never_raise_anything_but_a_typed_error(data: st.DataObject) -> None:
    blob = bytearray(REFERENCE_SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        position = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if action == "flip" and blob:
            blob[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del blob[position : position + data.draw(st.integers(1, 50))]
        elif action == "insert":
            blob[position:position] = data.draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"<!DOCTYPE x>",
                        b"<a>",
                        b"</edXML:To>",
                        b"\x00",
                        b"\xff\xfe",
                        b"]]>",
                        b"&amp;",
                    ]
                )
            )
        elif action == "truncate":
            del blob[position:]
        else:
            blob[position:position] = blob[position : position + 200]
    refusal: AppError | None = None
    try:
        read_bytes(bytes(blob))
    except AppError as exc:  # anything else (a 500) fails the test
        refusal = exc
    if refusal is not None:
        assert 400 <= refusal.status_code < 500
        assert refusal.code
