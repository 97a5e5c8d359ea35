"""Documents composed on the node are numbered from their agency's outgoing register (Decree
30/2020 art. 15): 01, 02 … each year, no gap and no duplicate even with senders at the same
time; the notation follows Phụ lục III; the DocumentId takes the national axis' form."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.exchange import compose, registers
from lienthong.exchange.edxml.reader import read_bytes
from lienthong.exchange.models import Document
from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import AppError
from lienthong.registry import service as registry
from lienthong.runtime import Runtime, build_runtime
from tests.conftest import build_seeded_database, create_database

from .conftest import HA_LONG_CITY, HONG_GAI, PDF, SNV

NATIONAL_ID = re.compile(
    r"^(?P<code>[^,]+),(?P<date>\d{4}/\d{2}/\d{2}),(?P<number>\d+)/(?P<notation>.+)$"
)


def _draft(**fields: object) -> compose.Draft:
    values: dict[str, object] = {
        "recipients": [HONG_GAI],
        "subject": "Về việc đánh số văn bản",
        "uploads": [compose.Upload("van-ban.pdf", io.BytesIO(PDF))],
        **fields,
    }
    return compose.Draft(**values)  # type: ignore[arg-type]


def test_numbers_notations_and_the_national_document_id(db: Session, keyed: Runtime) -> None:
    first = compose.send(db, keyed, sender_code=SNV, draft=_draft())
    second = compose.send(
        db, keyed, sender_code=SNV, draft=_draft(type_name="Quyết định", drafting_unit="VP")
    )
    one, two = (db.get_one(Document, a["id"]) for a in (first, second))
    assert (one.code_number, one.code_notation) == ("01", "SNV")
    assert (two.code_number, two.code_notation) == ("02", "QĐ-SNV-VP")
    match = NATIONAL_ID.match(two.document_id)
    assert match is not None, two.document_id
    assert match["code"] == SNV
    assert match["date"] == local_today().strftime("%Y/%m/%d")
    assert (match["number"], match["notation"]) == ("02", "QĐ-SNV-VP")
    # What a receiver reads from the package: Code with CodeNumber and CodeNotation.
    with keyed.blobs.open(two.stored_sha256) as handle:
        package = read_bytes(handle.read()).package
    assert (package.code_number, package.code_notation) == ("02", "QĐ-SNV-VP")  # type: ignore[union-attr]
    # A ward, a People's Committee, writes UBND.
    ward = registry.get_agency(db, code=HONG_GAI)
    assert registers.notation(db, agency=ward, type_name="Thông báo") == "TB-UBND"
    registers.set_abbreviation(db, agency=registry.get_agency(db, code=SNV), value="SNVQN")
    assert (
        registers.notation(db, agency=registry.get_agency(db, code=SNV), type_name="Công văn")
        == "SNVQN"
    )


def test_a_refused_send_gives_its_number_back(db: Session, keyed: Runtime) -> None:
    # A unit dissolved into several is refused at intake, after the number was taken.
    with pytest.raises(AppError) as caught:
        compose.send(db, keyed, sender_code=SNV, draft=_draft(recipients=[HA_LONG_CITY]))
    assert caught.value.code == "recipient_dissolved"
    db.rollback()
    answer = compose.send(db, keyed, sender_code=SNV, draft=_draft())
    assert db.get_one(Document, answer["id"]).code_number == "01"


def test_eight_senders_at_once_get_distinct_numbers_without_gaps(tmp_path: Path) -> None:
    url, drop = create_database(tmp_path, "registers")
    engine = build_seeded_database(url)
    from lienthong.config import Settings
    from lienthong.db import make_session_factory, unit_of_work

    settings = Settings(
        database_url=url,
        log_json=False,
        blob_dir=tmp_path / "blobs",
        key_dir=tmp_path / "keys",
        rate_limit_url="memory://",
    )
    runtime = build_runtime(settings)
    runtime.keys.ensure_agency(SNV, "Sở Nội vụ")  # type: ignore[attr-defined]
    factory = make_session_factory(engine)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            for _ in range(5):
                with unit_of_work(factory) as session:
                    compose.send(session, runtime, sender_code=SNV, draft=_draft())
        except BaseException as exc:  # a failure must fail the test, not vanish in a thread
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        with factory() as session:
            numbers = sorted(int(n) for n in session.scalars(select(Document.code_number)))
            assert session.scalar(select(func.count()).select_from(Document)) == 40
        assert numbers == list(range(1, 41))
    finally:
        engine.dispose()
        drop()  # type: ignore[operator]
