"""The job table: claim, retry with backoff, dead letters, requeue, and no double claims."""

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.db import make_session_factory
from lienthong.kernel import jobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid


class Flaky:
    """Fails the first `failures` times, then records its payload."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.done: list[dict[str, Any]] = []

    def __call__(self, ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")
        self.done.append(payload)


def make_due(db: Session, job_id: int) -> None:
    db.expire_all()  # the worker changed the row through its own sessions
    job = db.get_one(jobs.Job, job_id)
    job.run_after = utcnow() - timedelta(seconds=1)
    db.commit()


def test_a_job_runs_once_and_is_done(session_factory: sessionmaker[Session], db: Session) -> None:
    handler = Flaky(0)
    job = jobs.enqueue(db, kind="test.flaky", payload={"n": 1})
    db.commit()
    worker = jobs.Worker(factory=session_factory, handlers={"test.flaky": handler})
    finished = worker.run_once()
    assert finished is not None
    assert (finished.id, finished.status, finished.attempts) == (job.id, jobs.DONE, 1)
    assert handler.done == [{"n": 1}]
    assert worker.run_once() is None


def test_failures_back_off_then_die_then_requeue(
    session_factory: sessionmaker[Session], db: Session
) -> None:
    handler = Flaky(3)
    job = jobs.enqueue(db, kind="test.flaky", payload={}, max_attempts=3)
    db.commit()
    worker = jobs.Worker(
        factory=session_factory, handlers={"test.flaky": handler}, backoff_seconds=10
    )
    first = worker.run_once()
    assert first is not None
    assert first.status == jobs.PENDING
    assert first.last_error == "RuntimeError: boom 1"
    # Backoff: not due again straight away (10 s ±20 %).
    assert first.run_after > utcnow() + timedelta(seconds=7)
    assert worker.run_once() is None
    make_due(db, job.id)
    second = worker.run_once()
    assert second is not None
    assert second.status == jobs.PENDING
    assert second.run_after > utcnow() + timedelta(seconds=15)  # doubled
    make_due(db, job.id)
    third = worker.run_once()
    assert third is not None
    assert third.status == jobs.DEAD
    assert jobs.counts_by_status(db)[jobs.DEAD] == 1
    db.expire_all()
    jobs.requeue(db, job_id=job.id)
    db.commit()
    again = worker.run_once()
    assert again is not None
    assert again.status == jobs.DONE
    assert handler.calls == 4


def test_requeue_only_dead_jobs(db: Session) -> None:
    job = jobs.enqueue(db, kind="x", payload={})
    with pytest.raises(Invalid) as caught:
        jobs.requeue(db, job_id=job.id)
    assert caught.value.code == "job_not_dead"


def test_unknown_kind_fails_visibly(session_factory: sessionmaker[Session], db: Session) -> None:
    jobs.enqueue(db, kind="nobody.handles.this", payload={}, max_attempts=1)
    db.commit()
    finished = jobs.Worker(factory=session_factory, handlers={}).run_once()
    assert finished is not None
    assert finished.status == jobs.DEAD
    assert "no handler" in (finished.last_error or "")


def test_handler_work_rolls_back_with_its_failure(
    session_factory: sessionmaker[Session], db: Session
) -> None:
    def half_then_fail(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        jobs.enqueue(ctx.session, kind="side.effect", payload={})
        raise RuntimeError("after writing")

    jobs.enqueue(db, kind="test.half", payload={}, max_attempts=1)
    db.commit()
    jobs.Worker(factory=session_factory, handlers={"test.half": half_then_fail}).run_once()
    db.expire_all()
    assert db.scalars(select(jobs.Job).where(jobs.Job.kind == "side.effect")).all() == []


def test_stale_running_job_is_claimed_again(
    session_factory: sessionmaker[Session], db: Session
) -> None:
    job = jobs.enqueue(db, kind="test.flaky", payload={})
    job.status = jobs.RUNNING
    job.locked_at = utcnow() - jobs.LEASE - timedelta(minutes=1)
    db.commit()
    finished = jobs.Worker(factory=session_factory, handlers={"test.flaky": Flaky(0)}).run_once()
    assert finished is not None
    assert finished.status == jobs.DONE


def test_jobs_of_a_killed_worker_are_released_at_once_not_after_the_lease(
    session_factory: sessionmaker[Session], db: Session
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    holders = {
        "killed": f"{host}:{gone.pid}:worker-1",
        "alive": f"{host}:{os.getppid()}:worker-1",  # another live process of this host
        "elsewhere": f"other-host:{gone.pid}:worker-1",  # only its lease can tell
    }
    ids = {}
    for name, holder in holders.items():
        job = jobs.enqueue(db, kind="test.orphan", payload={})
        job.status, job.locked_by, job.locked_at = jobs.RUNNING, holder, utcnow()
        ids[name] = job.id
    db.commit()
    with session_factory.begin() as session:
        assert jobs.release_orphans(session, worker_id=jobs.process_id("worker-9")) == 1
    db.expire_all()
    states = {name: db.get_one(jobs.Job, job_id).status for name, job_id in ids.items()}
    assert states == {"killed": jobs.PENDING, "alive": jobs.RUNNING, "elsewhere": jobs.RUNNING}


def test_concurrent_workers_never_claim_the_same_job(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        ids = [
            jobs.enqueue(session, kind="test.concurrent", payload={"i": i}).id for i in range(40)
        ]
    seen: list[int] = []
    lock = threading.Lock()

    def handler(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        with lock:
            seen.append(payload["i"])

    try:
        workers = [
            jobs.Worker(factory=factory, handlers={"test.concurrent": handler}, worker_id=f"w{n}")
            for n in range(4)
        ]
        threads = [threading.Thread(target=w.run_until_idle) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(seen) == list(range(40))
        with factory() as session:
            owners = {
                j.locked_by for j in session.scalars(select(jobs.Job).where(jobs.Job.id.in_(ids)))
            }
        assert len(owners) > 1, "the work was shared between workers"
    finally:
        with factory.begin() as session:
            session.execute(delete(jobs.Job).where(jobs.Job.id.in_(ids)))
