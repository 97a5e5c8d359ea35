"""A document from a department to a ward and back, through the native API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.exchange import log
from lienthong.exchange.models import Delivery, Document, LogEntry
from lienthong.federation import peers
from lienthong.federation.models import Outbound
from lienthong.kernel.pki import FileKeyStore, issue, pem
from lienthong.runtime import Runtime

from .conftest import (
    BACH_DANG,
    HA_LONG,
    HA_LONG_CITY,
    HONG_GAI,
    SNV,
    VPCP,
    Software,
    draft_package,
    send,
    signed,
)


def counts(db: Session) -> tuple[int, int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Document)) or 0,
        db.scalar(select(func.count()).select_from(Delivery)) or 0,
        db.scalar(select(func.count()).select_from(LogEntry)) or 0,
    )


def test_send_deliver_accept_and_see_it(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, ward = software(SNV), software(HONG_GAI)
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    response = send(client, snv, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["recipients"] == [
        {
            "code": HONG_GAI,
            "result": "accepted",
            "delivered_to": HONG_GAI,
            "route": "local",
            "note": None,
            "note_en": None,
        }
    ]
    assert run_jobs() == 1
    inbox = client.get("/api/v1/documents/inbox", headers=ward.headers).json()
    assert inbox["total"] == 1
    assert inbox["unread"] == 1
    item = inbox["items"][0]
    assert (item["subject"], item["status_code"], item["sender_code"]) == (
        "Về việc thử nghiệm",
        "01",
        SNV,
    )
    detail = client.get(f"/api/v1/documents/{answer['id']}", headers=ward.headers).json()
    assert detail["signature"] == "verified"
    assert detail["attachments"][0]["name"] == "to-trinh.pdf"
    pdf = client.get(f"/api/v1/documents/{answer['id']}/attachments/0", headers=ward.headers)
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    assert client.get("/api/v1/documents/inbox", headers=ward.headers).json()["unread"] == 0
    accepted = client.post(
        f"/api/v1/documents/{answer['id']}/status",
        json={"code": "03", "staff": "Văn thư"},
        headers=ward.headers,
    )
    assert accepted.status_code == 201, accepted.text
    sent = client.get("/api/v1/documents/sent", headers=snv.headers).json()
    assert sent["items"][0]["recipients"][0]["status_code"] == "03"
    package = client.get(f"/api/v1/documents/{answer['id']}/package", headers=ward.headers)
    assert package.content == body
    verification = log.verify(db, keys=keyed.keys)
    assert verification.first_broken_id is None
    assert verification.entries >= 3  # in: edoc, out: 01, out: 03


def test_same_package_twice_is_stored_once(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    snv = software(SNV)
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    first = send(client, snv, body)
    before = counts(db)
    again = send(client, snv, body)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["X-Lienthong-Repeat"] == "true"
    assert counts(db) == before


def test_same_document_id_other_content_is_a_conflict(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    snv = software(SNV)
    send(client, snv, signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI])))
    before = counts(db)
    other = send(
        client,
        snv,
        signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], subject="Khác")),
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "document_id_conflict"
    assert counts(db) == before


def test_routing_follows_mergers_and_refuses_what_it_must(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    snv = software(SNV)
    alone = send(client, snv, signed(keyed, draft_package(db, keyed, sender=SNV, to=[VPCP])))
    assert alone.status_code == 422, alone.text
    assert alone.json()["error"]["code"] == "no_route_to_node"  # no peer, no national axis yet
    assert isinstance(keyed.keys, FileKeyStore)
    ca_key, ca_cert = keyed.keys.ensure_ca()
    _key, axis_cert = issue(ca_key, ca_cert, common_name="lienthong node VN", agency_code="VN")
    peers.add_peer(
        db,
        keys=keyed.keys,
        code="VN",
        base_url="http://axis.invalid",
        certificate_pem=pem(axis_cert) + pem(ca_cert),
        national=True,
    )
    db.commit()
    body = signed(
        keyed,
        draft_package(db, keyed, sender=SNV, to=[BACH_DANG, HA_LONG_CITY, "000.00.99.H49", VPCP]),
    )
    response = send(client, snv, body)
    assert response.status_code == 202, response.text
    results = {r["code"]: r for r in response.json()["recipients"]}
    assert results[BACH_DANG]["result"] == "accepted"
    assert results[BACH_DANG]["delivered_to"] == HONG_GAI
    assert results[BACH_DANG]["route"] == "successor"
    assert "Bạch Đằng" in client.get(f"/api/v1/organizations/{BACH_DANG}").json()["name"]
    assert results[HA_LONG_CITY]["error"] == "recipient_dissolved"
    assert HA_LONG in results[HA_LONG_CITY]["successor_codes"]
    assert results["000.00.99.H49"]["error"] == "unknown_recipient"
    assert results[VPCP]["route"] == "federation"
    sent = client.get("/api/v1/documents/sent", headers=snv.headers).json()["items"][0][
        "recipients"
    ]
    states = {r["recipient_code"]: r["state"] for r in sent}
    assert states == {HONG_GAI: "delivered", VPCP: "waiting"}
    queued = db.scalars(
        select(Outbound).where(Outbound.document_id == response.json()["document_id"])
    ).all()
    assert [(o.peer_code, o.recipients, o.state) for o in queued] == [("VN", [VPCP], "queued")]


def test_no_valid_recipient_stores_nothing(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    snv = software(SNV)
    before = counts(db)
    only_dissolved = send(
        client, snv, signed(keyed, draft_package(db, keyed, sender=SNV, to=[HA_LONG_CITY]))
    )
    assert only_dissolved.status_code == 422
    assert only_dissolved.json()["error"]["code"] == "recipient_dissolved"
    unknown = send(
        client,
        snv,
        signed(
            keyed,
            draft_package(db, keyed, sender=SNV, to=["000.00.99.H49", "28.22.H17"], number="13"),
        ),
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_recipient"
    assert len(unknown.json()["error"]["details"]["recipients"]) == 2
    assert counts(db) == before


def test_statuses_follow_the_rules(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, ward = software(SNV), software(HONG_GAI)
    doc = send(
        client, snv, signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    ).json()["id"]
    early = client.post(
        f"/api/v1/documents/{doc}/status", json={"code": "05"}, headers=ward.headers
    )
    assert (early.status_code, early.json()["error"]["code"]) == (409, "status_out_of_order")
    run_jobs()
    wrong_side = client.post(
        f"/api/v1/documents/{doc}/status", json={"code": "13"}, headers=ward.headers
    )
    assert (wrong_side.status_code, wrong_side.json()["error"]["code"]) == (
        422,
        "status_not_allowed",
    )
    skipping = client.post(
        f"/api/v1/documents/{doc}/status", json={"code": "06"}, headers=ward.headers
    )
    assert (skipping.status_code, skipping.json()["error"]["code"]) == (409, "status_out_of_order")
    assert skipping.json()["error"]["details"]["allowed"] == ["02", "03"]
    unknown = client.post(
        f"/api/v1/documents/{doc}/status", json={"code": "09"}, headers=ward.headers
    )
    assert unknown.json()["error"]["code"] == "invalid_status_code"
    assert (
        client.post(
            f"/api/v1/documents/{doc}/status", json={"code": "03"}, headers=ward.headers
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/documents/{doc}/status", json={"code": "05"}, headers=ward.headers
        ).status_code
        == 201
    )
    # The sender asks for it back; the ward agrees; it leaves the inbox.
    recall = client.post(
        f"/api/v1/documents/{doc}/recall", json={"reason": "Sai số hiệu"}, headers=snv.headers
    )
    assert recall.status_code == 201, recall.text
    assert (
        client.post(
            f"/api/v1/documents/{doc}/recall", json={"reason": "again"}, headers=snv.headers
        ).json()["error"]["code"]
        == "status_out_of_order"
    )
    assert (
        client.post(
            f"/api/v1/documents/{doc}/status", json={"code": "15"}, headers=ward.headers
        ).status_code
        == 201
    )
    assert client.get("/api/v1/documents/inbox", headers=ward.headers).json()["total"] == 0
    sent = client.get("/api/v1/documents/sent", headers=snv.headers).json()["items"][0][
        "recipients"
    ][0]
    assert sent["state"] == "recalled"


def test_other_agencies_see_nothing(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv, stranger = software(SNV), software(HA_LONG)
    doc = send(
        client, snv, signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    ).json()["id"]
    run_jobs()
    for path in (
        f"/api/v1/documents/{doc}",
        f"/api/v1/documents/{doc}/package",
        f"/api/v1/documents/{doc}/attachments/0",
    ):
        response = client.get(path, headers=stranger.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_document"
    assert client.get("/api/v1/documents/inbox", headers=stranger.headers).json()["total"] == 0
    # Answering a status on another agency's document is told apart from nothing: 404 both.
    foreign = client.post(
        f"/api/v1/documents/{doc}/status", json={"code": "03"}, headers=stranger.headers
    )
    missing = client.post(
        "/api/v1/documents/999999/status", json={"code": "03"}, headers=stranger.headers
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "unknown_document")
    assert foreign.json()["error"] == missing.json()["error"] | {
        "message": foreign.json()["error"]["message"]
    }


def test_attachments_never_serve_active_content_inline(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    import dataclasses

    snv, ward = software(SNV), software(HONG_GAI)
    package = draft_package(db, keyed, sender=SNV, to=[HONG_GAI])
    hostile = dataclasses.replace(
        package, attachments=[dataclasses.replace(package.attachments[0], content_type="text/html")]
    )
    doc = send(client, snv, signed(keyed, hostile)).json()["id"]
    run_jobs()
    response = client.get(f"/api/v1/documents/{doc}/attachments/0", headers=ward.headers)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
