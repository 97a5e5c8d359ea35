"""Agencies with keys and software credentials, and a way to build signed packages."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lienthong.accounts import service as accounts
from lienthong.app import job_handlers
from lienthong.exchange import compose
from lienthong.exchange.edxml.model import DocumentPackage
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import to_bytes, write_document
from lienthong.kernel import jobs
from lienthong.kernel.pki import FileKeyStore
from lienthong.runtime import Runtime

SNV = "000.00.02.H49"  # Sở Nội vụ
HONG_GAI = "000.00.84.H49"  # Phường Hồng Gai
HA_LONG = "000.00.85.H49"  # Phường Hạ Long
BACH_DANG = "000.25.30.H49"  # former Phường Bạch Đằng, dissolved into Hồng Gai
HA_LONG_CITY = "000.00.30.H49"  # former Thành phố Hạ Long, several successors
VPCP = "000.00.00.G22"  # served by the national axis
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def keyed(runtime: Runtime) -> Runtime:
    keys = runtime.keys
    assert isinstance(keys, FileKeyStore)
    for code, name in (
        (SNV, "Sở Nội vụ"),
        (HONG_GAI, "UBND phường Hồng Gai"),
        (HA_LONG, "UBND phường Hạ Long"),
    ):
        keys.ensure_agency(code, name)
    return runtime


@dataclasses.dataclass
class Software:
    code: str
    headers: dict[str, str]
    system_id: str
    secret: str


@pytest.fixture
def software(db: Session, keyed: Runtime) -> Callable[[str], Software]:
    def make(code: str) -> Software:
        system_id, secret = accounts.issue_credential(
            db, agency_code=code, seal=keyed.keys.secret_box().encrypt
        )
        db.commit()
        token = base64.b64encode(f"{system_id}:{secret}".encode()).decode()
        return Software(code, {"Authorization": f"Basic {token}"}, system_id, secret)

    return make


def draft_package(
    db: Session,
    runtime: Runtime,
    *,
    sender: str,
    to: list[str],
    subject: str = "Về việc thử nghiệm",
    number: str | None = "12",
    notation: str = "SNV-VP",
    priority: int = 0,
) -> DocumentPackage:
    draft = compose.Draft(
        recipients=[],
        subject=subject,
        code_number=number,
        code_notation=notation,
        priority=priority,
        uploads=[compose.Upload("to-trinh.pdf", io.BytesIO(PDF))],
    )
    draft.recipients = [sender]  # build() needs known agencies; the To list is set below as written
    package = compose.build(db, runtime, sender_code=sender, draft=draft)
    from lienthong.exchange.edxml.model import Organization

    return dataclasses.replace(package, to=[Organization(organ_id=c, organ_name=c) for c in to])


def signed(runtime: Runtime, package: DocumentPackage, signer: str | None = None) -> bytes:
    identity = runtime.keys.identity(signer or package.from_.organ_id)
    assert identity is not None
    return to_bytes(
        sign(
            lambda sig: write_document(
                package, open_blob=lambda r: runtime.blobs.open(r.sha256), signature=sig
            ),
            identity,
        )
    )


def unsigned(runtime: Runtime, package: DocumentPackage) -> bytes:
    return to_bytes(write_document(package, open_blob=lambda r: runtime.blobs.open(r.sha256)))


@pytest.fixture
def run_jobs(session_factory: sessionmaker[Session], keyed: Runtime) -> Callable[[], int]:
    def run() -> int:
        return jobs.Worker(factory=session_factory, handlers=job_handlers(keyed)).run_until_idle()

    return run


def send(client: TestClient, sw: Software, body: bytes) -> object:
    return client.post(
        "/api/v1/documents", content=body, headers={**sw.headers, "Content-Type": "application/xml"}
    )
