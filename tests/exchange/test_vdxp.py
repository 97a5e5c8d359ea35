"""The same flow through the national-axis-compatible endpoints, driven the SDK's way."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.exchange.edxml.model import DocumentPackage, StatusPackage
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.edxml.writer import to_bytes, write_status
from lienthong.exchange.routing import organization
from lienthong.exchange.vdxp_auth import sdk_headers
from lienthong.kernel.clock import utcnow
from lienthong.registry import service as registry
from lienthong.runtime import Runtime

from .conftest import HONG_GAI, SNV, Software, draft_package, signed


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
    stale = Sdk(client, ward).call(
        "countReceiveEdoc", {}, method="GET", now=utcnow() - timedelta(hours=1)
    )
    assert stale.json()["ErrorCode"] == "stale_timestamp"
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
