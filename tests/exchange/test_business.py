"""Recall, update and replacement packages (BussinessDocType 1, 2, 3), and the checker."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.exchange.edxml.model import (
    Business,
    Organization,
    Receiver,
    ReplacementInfo,
    ResponseFor,
)
from lienthong.runtime import Runtime

from .conftest import HA_LONG, HONG_GAI, SNV, Software, draft_package, send, signed, unsigned
from .test_flow import counts


def first_document(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    snv: Software,
    run_jobs: Callable[[], int],
    to: list[str],
) -> tuple[int, str]:
    package = draft_package(db, keyed, sender=SNV, to=to)
    answer = send(client, snv, signed(keyed, package)).json()
    run_jobs()
    return answer["id"], package.document_id


def test_update_adds_and_removes_recipients(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, hong_gai, ha_long = software(SNV), software(HONG_GAI), software(HA_LONG)
    original, document_id = first_document(client, db, keyed, snv, run_jobs, [HONG_GAI])
    update = dataclasses.replace(
        draft_package(db, keyed, sender=SNV, to=[HONG_GAI, HA_LONG], number="12b"),
        business=Business(
            doc_type=2,
            reason="Cập nhật văn bản điện tử",
            document_id=document_id,
            receivers=[Receiver(HONG_GAI, 0), Receiver(HA_LONG, 1)],
        ),
    )
    assert send(client, snv, signed(keyed, update)).status_code == 202
    run_jobs()
    ha_long_inbox = client.get("/api/v1/documents/inbox", headers=ha_long.headers).json()
    assert original in [i["id"] for i in ha_long_inbox["items"]]
    hong_gai_inbox = client.get("/api/v1/documents/inbox", headers=hong_gai.headers).json()
    assert original not in [i["id"] for i in hong_gai_inbox["items"]]


def test_replacement_marks_the_old_document(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, hong_gai = software(SNV), software(HONG_GAI)
    original, document_id = first_document(client, db, keyed, snv, run_jobs, [HONG_GAI])
    replacement = dataclasses.replace(
        draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="12c"),
        business=Business(
            doc_type=3,
            reason="Văn bản thay thế",
            replacements=[ReplacementInfo(document_id, [HONG_GAI])],
        ),
    )
    new = send(client, snv, signed(keyed, replacement)).json()["id"]
    detail = client.get(f"/api/v1/documents/{original}", headers=hong_gai.headers).json()
    assert detail["replaced_by"] == new


def test_recall_package_asks_each_named_recipient(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, hong_gai = software(SNV), software(HONG_GAI)
    original, document_id = first_document(client, db, keyed, snv, run_jobs, [HONG_GAI, HA_LONG])
    recall = dataclasses.replace(
        draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="12d"),
        business=Business(doc_type=1, reason="Thu hồi văn bản điện tử"),
        response_for=[ResponseFor(organ_id=SNV, document_id=document_id)],
    )
    assert send(client, snv, signed(keyed, recall)).status_code == 202
    detail = client.get(f"/api/v1/documents/{original}", headers=snv.headers).json()
    pending = {r["recipient_code"]: r["pending_request"] for r in detail["recipients"]}
    assert pending == {HONG_GAI: "13", HA_LONG: None}
    refused = client.post(
        f"/api/v1/documents/{original}/status", json={"code": "16"}, headers=hong_gai.headers
    )
    assert refused.status_code == 201
    after = client.get(f"/api/v1/documents/{original}", headers=hong_gai.headers).json()
    assert after["recipients"][0]["state"] == "delivered"
    assert [h["code"] for h in after["recipients"][0]["history"]] == ["01", "13", "16"]


def test_recall_of_an_unknown_document_is_refused(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    snv = software(SNV)
    before = counts(db)
    recall = dataclasses.replace(
        draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="99"),
        business=Business(doc_type=1),
        response_for=[ResponseFor(organ_id=SNV, document_id="no-such-document")],
    )
    response = send(client, snv, signed(keyed, recall))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_target_document"
    assert counts(db) == before


def test_checker_names_every_problem_and_stores_nothing(
    client: TestClient, db: Session, keyed: Runtime
) -> None:
    before = counts(db)
    package = draft_package(db, keyed, sender=SNV, to=[HONG_GAI, "28.22.H17"])
    package = dataclasses.replace(
        package, priority=7, manifest=[], from_=Organization(organ_id=SNV, organ_name="Sở Nội vụ")
    )
    report = client.post("/api/v1/edxml/validate", content=unsigned(keyed, package)).json()
    assert report["valid"] is False
    found = {(p["element"], p["code"]) for p in report["problems"]}
    assert ("To[2]/OrganId", "invalid_agency_code") in found
    assert ("OtherInfo/Priority", "invalid_priority") in found
    assert ("edXMLHeader/Signature", "signature_required") in found
    assert any(code == "attachment_mismatch" for _, code in found)
    assert all(p["fix"] for p in report["problems"])
    good = client.post(
        "/api/v1/edxml/validate",
        content=signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI])),
    ).json()
    assert {k: v for k, v in good.items() if k != "header"} == {
        "valid": True,
        "kind": "edoc",
        "document_id": good["document_id"],
        "problems": [],
    }
    assert good["header"]["from"]["code"] == SNV  # what it read: see test_wrapping
    broken = client.post("/api/v1/edxml/validate", content=b"<edXML").json()
    assert broken["valid"] is False
    assert broken["problems"][0]["code"] == "not_xml"
    assert counts(db) == before
