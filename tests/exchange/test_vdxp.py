"""The same flow through the national-axis-compatible endpoints, driven the SDK's way."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.exchange.edxml.model import DocumentPackage, StatusPackage
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.edxml.writer import to_bytes, write_status
from lienthong.exchange.routing import organization
from lienthong.exchange.vdxp_auth import sdk_headers
from lienthong.kernel.clock import utcnow
from lienthong.registry import service as registry
from lienthong.runtime import Runtime

from .conftest import HONG_GAI, SNV, Software, draft_package, signed
from .test_flow import counts


@dataclasses.dataclass
class Sdk:
    """What vendor software built on SDKVXP sends, with the base URL pointed at this node."""

    client: TestClient
    software: Software

    def call(
        self, path: str, params: dict[str, str], *, method: str = "POST", now: Any = None
    ) -> Any:
        headers = sdk_headers(self.software.system_id, self.software.secret, params, now=now)
        response = self.client.request(
            method, f"/vdxp/{path}", headers=headers, content=json.dumps(params).encode()
        )
        return response

    def send(self, data: bytes, messagetype: str = "edoc") -> Any:
        params = {"from": self.software.code, "servicetype": "eDoc", "messagetype": messagetype}
        headers = sdk_headers(
            self.software.system_id, self.software.secret, params, file_bytes=data
        )
        return self.client.post("/vdxp/sendEdoc", headers=headers, content=data + b"\r\n")


def test_sdk_flow_send_receive_acknowledge_and_status(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    department, ward = Sdk(client, software(SNV)), Sdk(client, software(HONG_GAI))
    sent = department.send(signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI])))
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "OK"
    assert sent.json()["ErrorCode"] == "0"
    run_jobs()
    assert ward.call("countReceiveEdoc", {}, method="GET").json()["count"] == 1
    listing = ward.call(
        "getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}
    ).json()
    assert listing["status"] == "OK"
    doc_id = listing["data"][0]["docId"]
    assert listing["data"][0]["from"] == SNV
    fetched = ward.call("getEdoc", {"docId": doc_id, "filePath": "edoc-downloads"}).json()
    package = read_bytes(base64.b64decode(fetched["data"])).package
    assert isinstance(package, DocumentPackage)
    assert package.subject == "Về việc thử nghiệm"
    assert ward.call("updateStatus", {"docid": doc_id, "status": "done"}).json()["status"] == "OK"
    assert ward.call("countReceiveEdoc", {}, method="GET").json()["count"] == 0

    # The ward's software answers 03 with an (unsigned) status package: the node signs it remotely.
    ward_agency = registry.get_agency(db, code=HONG_GAI)
    status = StatusPackage(
        from_=organization(ward_agency),
        response_for=dataclasses.replace(
            __import__("lienthong.exchange.edxml.model", fromlist=["ResponseFor"]).ResponseFor(),
            organ_id=SNV,
            document_id=package.document_id,
        ),
        status_code="03",
        description="Tiếp nhận",
    )
    answer = ward.send(to_bytes(write_status(status)), messagetype="status")
    assert answer.json()["status"] == "OK", answer.text

    statuses = department.call(
        "getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "status"}
    ).json()
    codes = [s["status"] for s in statuses["data"]]
    assert codes == ["01", "03"]
    status_package = read_bytes(
        base64.b64decode(
            department.call("getEdoc", {"docId": statuses["data"][1]["docId"]}).json()["data"]
        )
    ).package
    assert isinstance(status_package, StatusPackage)
    assert status_package.status_code == "03"
    sent_list = department.call(
        "getSentEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}
    ).json()
    assert sent_list["data"][0]["receiveStatus"] == "03"
    assert sent_list["data"][0]["toCode"] == HONG_GAI
    agencies = department.call("getAgenciesList", {}).json()
    assert any(a["code"] == HONG_GAI for a in agencies["data"])


def test_bad_hmac_and_stale_calls_are_refused(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    ward = software(HONG_GAI)
    forged = Sdk(client, dataclasses.replace(ward, secret="not-the-secret"))
    response = forged.call("countReceiveEdoc", {}, method="GET")
    assert response.status_code == 401
    assert response.json()["status"] == "FAIL"
    assert response.json()["ErrorCode"] == "bad_signature"
    unsigned_call = client.post("/vdxp/getReceivedEdocList", json={})
    assert unsigned_call.status_code == 401
    assert unsigned_call.json()["ErrorCode"] == "missing_signature_headers"


def test_hash_file_must_match(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    sdk = Sdk(client, software(SNV))
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    headers = sdk_headers(
        sdk.software.system_id,
        sdk.software.secret,
        {"from": SNV, "messagetype": "edoc"},
        file_bytes=b"something else",
    )
    response = client.post("/vdxp/sendEdoc", headers=headers, content=body + b"\r\n")
    assert response.status_code == 400
    assert response.json()["ErrorCode"] == "hash_mismatch"


def test_the_sdk_works_as_vendors_run_it(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    """A vendor's JVM in UTC (the container default) writes its wall clock without an offset,
    and a gateway keeps one SDK object stamped once at start: both work by default."""
    department, ward = software(SNV), software(HONG_GAI)
    started = utcnow() - timedelta(hours=3)  # the service object was built three hours ago
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    params = {"from": SNV, "servicetype": "eDoc", "messagetype": "edoc"}
    headers = sdk_headers(
        department.system_id, department.secret, params, file_bytes=body, now=started, zone=UTC
    )
    sent = client.post("/vdxp/sendEdoc", headers=headers, content=body + b"\r\n")
    assert sent.status_code == 200, sent.text
    assert sent.json()["DocId"]
    run_jobs()
    listing = Sdk(client, ward).call(
        "getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}, now=started
    )
    assert listing.json()["status"] == "OK", listing.text
    assert len(listing.json()["data"]) == 1
    # The same call replayed later is harmless: the send is answered as the same document.
    again = client.post("/vdxp/sendEdoc", headers=headers, content=body + b"\r\n")
    assert again.json()["DocId"] == sent.json()["DocId"]


def test_freshness_is_a_policy_per_credential(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    ward = software(HONG_GAI)
    accounts.set_freshness(db, system_id=ward.system_id, max_skew_seconds=300, clock_zone="UTC")
    db.commit()
    fresh = Sdk(client, ward).call("countReceiveEdoc", {}, method="GET")  # VN wall clock: 7 h off
    assert fresh.json()["ErrorCode"] == "stale_timestamp"
    headers = sdk_headers(ward.system_id, ward.secret, {}, now=utcnow(), zone=UTC)
    assert client.get("/vdxp/countReceiveEdoc", headers=headers).json()["status"] == "OK"
    stale = sdk_headers(
        ward.system_id, ward.secret, {}, now=utcnow() - timedelta(hours=1), zone=UTC
    )
    answer = client.get("/vdxp/countReceiveEdoc", headers=stale)
    assert answer.status_code == 401
    assert answer.json()["ErrorCode"] == "stale_timestamp"


def test_every_send_answer_carries_docid_and_an_error_stores_nothing(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    sdk = Sdk(client, software(SNV))
    body = signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI]))
    before = counts(db)
    wrong_kind = sdk.send(body, messagetype="status")
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["ErrorCode"] == "messagetype_mismatch"
    assert wrong_kind.json()["DocId"] == ""
    assert counts(db) == before  # refused before anything was stored
    broken = sdk.send(b"<not-edxml/>")
    assert (broken.json()["status"], broken.json()["DocId"]) == ("FAIL", "")
    forged = Sdk(client, dataclasses.replace(sdk.software, secret="x")).send(body)
    assert (forged.status_code, forged.json()["DocId"]) == (401, "")
    assert counts(db) == before


def test_send_streams_the_body(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    """A 24 MB package is never held whole in memory by the server (it was held twice)."""
    sdk = Sdk(client, software(SNV))
    package = draft_package(db, keyed, sender=SNV, to=[HONG_GAI])
    big = keyed.blobs.put(b"%PDF-1.4\n" + os.urandom(18 * 1024 * 1024))
    package = dataclasses.replace(
        package, attachments=[dataclasses.replace(package.attachments[0], blob=big)]
    )
    body = signed(keyed, package)
    assert len(body) > 24 * 1024 * 1024
    params = {"from": SNV, "servicetype": "eDoc", "messagetype": "edoc"}
    headers = sdk_headers(sdk.software.system_id, sdk.software.secret, params, file_bytes=body)
    payload = body + b"\r\n"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sent = client.post("/vdxp/sendEdoc", headers=headers, content=payload)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert sent.json()["status"] == "OK", sent.text
    # The test client itself copies the request once; the server adds its spool's memory part
    # and a few parser buffers, not the body again.
    assert peak < len(body) * 1.5, (
        f"peak {peak / 2**20:.1f} MiB for a {len(body) / 2**20:.1f} MiB body"
    )
