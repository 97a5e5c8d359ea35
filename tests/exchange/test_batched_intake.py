"""Packages that arrive together are stored in one transaction, and each still gets its own
answer: a refused package leaves no trace and does not touch its neighbours; repeats and
conflicts are seen inside one batch and across batches; one arrivals job and one log append
serve the batch, and the log's chain holds."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.exchange import deliveries, intake, log
from lienthong.exchange.models import Document
from lienthong.kernel import jobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.groupcommit import GroupCommit
from lienthong.runtime import Runtime

from .conftest import HONG_GAI, SNV, draft_package, signed
from .test_flow import counts


def _submit_together(
    committer: GroupCommit, db: Session, runtime: Runtime, bodies: list[bytes]
) -> list[Any]:
    """Take each package (read and checked) first, then hand all to the committer at once so
    that they land in one batch; the result of each, or its error."""
    takes: list[Any] = []
    for body in bodies:
        try:
            takes.append(
                intake.take(
                    db, runtime=runtime, chunks=[body], agency_code=SNV, may_remote_sign=False
                )
            )
        except AppError as exc:
            takes.append(exc)
    db.rollback()
    futures = [t if isinstance(t, AppError) else committer.submit(t.store) for t in takes]
    out: list[Any] = []
    for future in futures:
        if isinstance(future, AppError):
            out.append(future)
            continue
        try:
            out.append(future.result(timeout=60))
        except AppError as exc:
            out.append(exc)
    return out


@pytest.fixture
def committer(session_factory: sessionmaker[Session]) -> Any:
    # A long wait so that everything submitted together lands in one batch.
    gc = GroupCommit(session_factory, finish=intake.finish, max_batch=64, max_wait=0.5)
    yield gc
    gc.close()


def test_one_batch_many_answers(
    committer: GroupCommit, db: Session, keyed: Runtime, run_jobs: Callable[[], int]
) -> None:
    good = [
        signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number=str(n)))
        for n in (1, 2, 3)
    ]
    twin = good[1]  # the same package twice in the batch: stored once, the second a repeat
    clash = signed(
        keyed,
        dataclasses.replace(
            draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number="3", subject="Khác hẳn"),
        ),
    )
    db.rollback()
    before_docs, _, before_log = counts(db)
    jobs_before = db.scalar(select(func.count()).select_from(jobs.Job)) or 0
    results = _submit_together(committer, db, keyed, [*good, twin, clash])
    assert committer.batches == 1
    first, second, third, repeat, conflict = results
    assert all(isinstance(r, tuple) for r in (first, second, third, repeat)), results
    assert [r[1] for r in (first, second, third, repeat)] == [False, False, False, True]
    assert repeat[0] == second[0]
    assert isinstance(conflict, AppError)
    assert conflict.code == "document_id_conflict"
    db.expire_all()
    docs, _, entries = counts(db)
    assert docs - before_docs == 3
    assert entries - before_log == 3  # one log entry per stored package, in one append
    arrivals_jobs = db.scalars(
        select(jobs.Job).where(jobs.Job.kind == deliveries.ARRIVALS_JOB).order_by(jobs.Job.id)
    ).all()
    assert (db.scalar(select(func.count()).select_from(jobs.Job)) or 0) - jobs_before == 1
    assert len(arrivals_jobs[-1].payload["delivery_ids"]) == 3
    run_jobs()
    assert log.verify(db, keys=keyed.keys).first_broken_id is None


def test_a_refused_unit_leaves_its_neighbours_alone(
    committer: GroupCommit, db: Session, keyed: Runtime
) -> None:
    bodies = [
        signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number=str(n)))
        for n in (11, 12)
    ]
    db.rollback()
    calls: list[str] = []

    def refused_unit(session: Session, into: dict[str, list[Any]]) -> None:
        # Writes something, then refuses: the savepoint must take the write back.
        session.add(
            Document(
                sender_id=1,
                document_id="x",
                package_sha256="0" * 64,
                stored_sha256="0" * 64,
                package_size=1,
                signature="unsigned",
                received_at=utcnow(),
                intake_answer={},
            )
        )
        session.flush()
        into.setdefault(intake.LOG, []).append(intake.log_entry("in", "edoc", "x", "x", "0" * 64))
        calls.append("refused")
        raise AppError("từ chối", "refused", code="refused_for_the_test")

    takes = [
        intake.take(db, runtime=keyed, chunks=[b], agency_code=SNV, may_remote_sign=False)
        for b in bodies
    ]
    db.rollback()
    before = counts(db)
    futures = [
        committer.submit(takes[0].store),
        committer.submit(refused_unit),
        committer.submit(takes[1].store),
    ]
    assert futures[0].result(60)[1] is False
    with pytest.raises(AppError) as caught:
        futures[1].result(60)
    assert caught.value.code == "refused_for_the_test"
    assert futures[2].result(60)[1] is False
    db.expire_all()
    after = counts(db)
    assert (after[0] - before[0], after[2] - before[2]) == (2, 2)  # nothing of the refused one
    assert (
        db.scalar(select(func.count()).select_from(Document).where(Document.document_id == "x"))
        == 0
    )
    assert calls == ["refused"]


def test_units_from_many_threads_each_get_their_answer(
    committer: GroupCommit, db: Session, keyed: Runtime
) -> None:
    bodies = [
        signed(keyed, draft_package(db, keyed, sender=SNV, to=[HONG_GAI], number=str(100 + n)))
        for n in range(12)
    ]
    takes = [
        intake.take(db, runtime=keyed, chunks=[b], agency_code=SNV, may_remote_sign=False)
        for b in bodies
    ]
    db.rollback()
    answers: dict[int, Any] = {}

    def send(i: int) -> None:
        answers[i] = committer.run(takes[i].store, timeout=60)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(takes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == list(range(12))
    assert len({a[0]["id"] for a in answers.values()}) == 12
    assert committer.batches < 12  # they were written together
