"""Every status package is signed as what it says it is: by its From agency's own key (held
by the node for remote signing), never by the node in the agency's name; without a key it is
refused when signatures are required, or kept unsigned and marked."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.exchange import answers
from lienthong.exchange.edxml.model import ResponseFor, StatusPackage
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.edxml.signature import sign, verify
from lienthong.exchange.edxml.writer import to_bytes, write_status
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.routing import organization
from lienthong.kernel.certpath import agency_code_of
from lienthong.kernel.errors import AppError
from lienthong.registry import service as registry
from lienthong.runtime import Runtime

from .conftest import HA_LONG, HONG_GAI, SNV, Software, draft_package, send, signed
from .test_vdxp import Sdk

QUANG_YEN = "000.00.86.H49"  # a ward the fixture gives no signing key


def _signer_of(runtime: Runtime, sha: str, agency: str) -> str | None:
    """The agency code on the certificate that signed a stored status, once it verifies."""
    with runtime.blobs.open(sha) as handle:
        result = read_bytes(handle.read())
    if result.package.signature is None:
        return None
    leaf = verify(
        result.package.signature,
        result.stream,
        sender_code=agency,
        keys=runtime.keys,
        allow_sha1=False,
    )
    return agency_code_of(leaf)


def _deliver(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
    to: str,
) -> Delivery:
    answer = send(
        client, software(SNV), signed(keyed, draft_package(db, keyed, sender=SNV, to=[to]))
    )
    assert answer.status_code == 202, answer.text
    run_jobs()
    db.expire_all()
    return db.scalars(select(Delivery).where(Delivery.document_fk == answer.json()["id"])).one()


def _rows(db: Session, delivery: Delivery) -> list[DeliveryStatus]:
    db.expire_all()
    return list(
        db.scalars(
            select(DeliveryStatus)
            .where(DeliveryStatus.delivery_id == delivery.id)
            .order_by(DeliveryStatus.id)
        )
    )


def test_the_01_is_signed_by_the_recipient_agency(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    delivery = _deliver(client, db, keyed, software, run_jobs, HONG_GAI)
    (arrived,) = _rows(db, delivery)
    assert (arrived.code, arrived.signature) == ("01", "remote")
    assert arrived.package_sha256
    assert _signer_of(keyed, arrived.package_sha256, HONG_GAI) == HONG_GAI


def test_a_recipient_without_a_key_gets_an_unsigned_01_marked_so(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    assert keyed.keys.identity(QUANG_YEN) is None
    delivery = _deliver(client, db, keyed, software, run_jobs, QUANG_YEN)
    (arrived,) = _rows(db, delivery)
    assert (arrived.code, arrived.signature) == ("01", "unsigned")
    assert arrived.package_sha256
    assert _signer_of(keyed, arrived.package_sha256, QUANG_YEN) is None


def test_an_unsigned_status_from_software_is_kept_signed_by_its_agency(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    delivery = _deliver(client, db, keyed, software, run_jobs, HONG_GAI)
    doc = db.get_one(Document, delivery.document_fk)
    ward = registry.get_agency(db, code=HONG_GAI)
    status = StatusPackage(
        from_=organization(ward),
        response_for=ResponseFor(organ_id=SNV, document_id=doc.document_id),
        status_code="03",
        description="Tiếp nhận",
    )
    body = to_bytes(write_status(status))
    ward_sdk = Sdk(client, software(HONG_GAI))
    assert ward_sdk.send(body, messagetype="status").json()["status"] == "OK"
    accepted = _rows(db, delivery)[-1]
    assert (accepted.code, accepted.signature) == ("03", "remote")
    assert accepted.package_sha256
    assert accepted.received_sha256
    assert accepted.package_sha256 != accepted.received_sha256
    assert _signer_of(keyed, accepted.package_sha256, HONG_GAI) == HONG_GAI
    # What the sender's software fetches is the signed package.
    department = Sdk(client, software(SNV))
    listing = department.call(
        "getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "status"}
    ).json()
    fetched = department.call("getEdoc", {"docId": listing["data"][-1]["docId"]}).json()
    served = read_bytes(base64.b64decode(fetched["data"])).package
    assert served.signature is not None
    # The same unsigned package sent again is a repeat, not a second 03.
    again = ward_sdk.send(body, messagetype="status")
    assert again.json()["status"] == "OK"
    assert [r.code for r in _rows(db, delivery)] == ["01", "03"]


def test_an_unsigned_status_without_a_key_is_refused(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    delivery = _deliver(client, db, keyed, software, run_jobs, QUANG_YEN)
    doc = db.get_one(Document, delivery.document_fk)
    status = StatusPackage(
        from_=organization(registry.get_agency(db, code=QUANG_YEN)),
        response_for=ResponseFor(organ_id=SNV, document_id=doc.document_id),
        status_code="03",
    )
    answer = Sdk(client, software(QUANG_YEN)).send(
        to_bytes(write_status(status)), messagetype="status"
    )
    assert answer.json()["ErrorCode"] == "signature_required"
    assert [r.code for r in _rows(db, delivery)] == ["01"]
    # Nor can the node's pages or API answer for it.
    with pytest.raises(AppError) as caught:
        answers.post_status(
            db,
            runtime=keyed,
            document_pk=doc.id,
            agency_code=QUANG_YEN,
            code="03",
            description=None,
        )
    assert caught.value.code == "remote_signing_unavailable"


def test_a_status_signed_by_another_agency_is_refused(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    """The ward's software sends a 03 signed with a neighbour's certificate: refused."""
    delivery = _deliver(client, db, keyed, software, run_jobs, HONG_GAI)
    doc = db.get_one(Document, delivery.document_fk)
    status = StatusPackage(
        from_=organization(registry.get_agency(db, code=HONG_GAI)),
        response_for=ResponseFor(organ_id=SNV, document_id=doc.document_id),
        status_code="03",
    )
    neighbour = keyed.keys.identity(HA_LONG)
    assert neighbour is not None
    body = to_bytes(sign(lambda sig: write_status(status, signature=sig), neighbour))
    answer = Sdk(client, software(HONG_GAI)).send(body, messagetype="status")
    assert answer.json()["ErrorCode"] == "certificate_not_for_sender"
    assert [r.code for r in _rows(db, delivery)] == ["01"]
