"""Refusals with their own codes that the other tests do not reach."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.runtime import Runtime

from .conftest import HA_LONG_CITY, HONG_GAI, SNV, VPCP, Software, draft_package, send, signed
from .test_flow import counts


def _code(response: object) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]  # type: ignore[attr-defined]


def test_a_repeated_singular_element_is_refused(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    subject = re.search(rb"<edXML:Subject>.*?</edXML:Subject>", body, flags=re.S)
    assert subject is not None
    twice = body.replace(subject.group(0), subject.group(0) * 2, 1)
    assert _code(send(client, software(SNV), twice)) == (422, "duplicate_element")


def test_a_signature_without_its_certificate_or_with_an_unknown_method(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    no_certificate = re.sub(rb"<X509Certificate>.*?</X509Certificate>", b"", body, flags=re.S)
    assert _code(send(client, software(SNV), no_certificate)) == (422, "missing_certificate")
    other_method = body.replace(
        b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        1,
    )
    assert _code(send(client, software(SNV), other_method)) == (422, "unsupported_signature")


def test_recipients_refused_for_different_reasons(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    before = counts(db)
    package = draft_package(db, keyed, sender=SNV, to=[HA_LONG_CITY, "000.00.99.H49"])
    answer = send(client, software(SNV), signed(keyed, package))
    assert _code(answer) == (422, "no_valid_recipient")
    reasons = {r["error"] for r in answer.json()["error"]["details"]["recipients"]}
    assert reasons == {"recipient_dissolved", "unknown_recipient"}
    assert counts(db) == before


def test_an_agency_served_by_another_node_sends_through_it(
    client: TestClient, db: Session, keyed: Runtime
) -> None:
    """Văn phòng Chính phủ is served by the national axis: its software cannot send here."""
    system_id, secret = accounts.issue_credential(db, agency_code=VPCP)
    db.commit()
    keyed.keys.ensure_agency(VPCP, "Văn phòng Chính phủ")  # type: ignore[attr-defined]
    package = draft_package(db, keyed, sender=VPCP, to=[HONG_GAI])
    answer = client.post(
        "/api/v1/documents", content=signed(keyed, package), auth=(system_id, secret)
    )
    assert _code(answer) == (403, "sender_not_served_here")
    assert answer.json()["error"]["details"]["serving_node"] == "VN"


def test_a_role_refusal_says_which_role(client: TestClient, db: Session) -> None:
    user = accounts.create_user(
        db,
        username="can.bo.mot.cua",
        full_name="Cán bộ",
        password="correct horse",
        grants=[(HONG_GAI, "officer")],  # type: ignore[list-item]
    )
    token = accounts.open_session(db, user=user, hours=1)
    db.commit()
    client.cookies.set("lt_session", token)
    answer = client.get("/api/v1/documents/inbox")
    assert _code(answer) == (403, "role_required")
    assert "clerk" in answer.json()["error"]["details"]["required_roles"]
