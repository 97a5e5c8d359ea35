"""The message log: hash-chained, checkpoints signed by the node, tampering found."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lienthong.exchange import log
from lienthong.exchange.models import LogEntry
from lienthong.runtime import Runtime
from tests.fixtures import EDXML_REFERENCE

from .conftest import HONG_GAI, SNV, Software, draft_package, send, signed


def test_chain_and_checkpoint_detect_tampering(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> None:
    snv = software(SNV)
    for number in ("1", "2", "3"):
        send(
            client,
            snv,
            signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number=number)),
        )
    run_jobs()
    mark = log.checkpoint(db, keys=keyed.keys)
    assert mark is not None
    assert log.checkpoint(db, keys=keyed.keys) == mark  # nothing new: no second checkpoint
    intact = log.verify(db, keys=keyed.keys)
    assert (intact.first_broken_id, intact.first_bad_checkpoint_id) == (None, None)
    assert intact.entries >= 6
    assert intact.checkpoints_ok == 1
    entries = db.scalars(select(LogEntry).order_by(LogEntry.id)).all()
    victim = entries[2]
    db.execute(update(LogEntry).where(LogEntry.id == victim.id).values(package_sha256="0" * 64))
    db.expire_all()
    broken = log.verify(db, keys=keyed.keys)
    assert broken.first_broken_id == victim.id


def test_checker_page_reports_without_sign_in(client: TestClient, tmp_path: Path) -> None:
    sample = EDXML_REFERENCE / "vxp-sdk-samples" / "edoc_new.edxml"
    response = client.post(
        "/edxml/validate", files={"package": ("edoc_new.edxml", sample.read_bytes())}
    )
    assert response.status_code == 200
    assert "Chưa hợp lệ" in response.text
    assert "weak_signature" in response.text  # the sample is signed with RSA-SHA1
    assert "To[1]/OrganId" in response.text  # 28.22.H17 is not a QĐ 20/2020 code
    assert "invalid_agency_code" in response.text
