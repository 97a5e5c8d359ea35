"""The job table and the worker loop.

Work for later is a row written in the same transaction as the change that needs it, so it
happens exactly when that change commits. Workers claim rows with SELECT … FOR UPDATE SKIP
LOCKED on PostgreSQL (several workers on several machines); on SQLite one in-process worker
claims them. Handlers must be idempotent: a job may run twice after a crash.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from lienthong.db import Base
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid, NotFound

log = logging.getLogger("lienthong.jobs")

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
JOB_STATUSES = (PENDING, RUNNING, DONE, DEAD)
# A running job whose worker has not finished it within the lease is claimed again.
LEASE = timedelta(minutes=10)


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_claim", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_after: Mapped[datetime]
    created_at: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))


@dataclass(frozen=True)
class JobContext:
    session: Session
    job_id: int
    attempt: int


Handler = Callable[[JobContext, dict[str, Any]], None]


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: Mapping[str, Any],
    run_after: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    now = utcnow()
    job = Job(
        kind=kind,
        payload=dict(payload),
        status=PENDING,
        attempts=0,
        max_attempts=max_attempts,
        run_after=run_after or now,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def claim(session: Session, *, worker_id: str, now: datetime | None = None) -> Job | None:
    """Take the next due job for this worker; the caller commits to publish the claim."""
    now = now or utcnow()
    due = or_(
        (Job.status == PENDING) & (Job.run_after <= now),
        (Job.status == RUNNING) & (Job.locked_at < now - LEASE),
    )
    stmt = (
        select(Job)
        .where(due)
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    job = session.scalars(stmt).first()
    if job is None:
        return None
    job.status = RUNNING
    job.attempts += 1
    job.locked_by = worker_id
    job.locked_at = now
    session.flush()
    return job


def process_id(suffix: str) -> str:
    """host:pid:suffix, the name a worker writes on what it holds (jobs, peer leases)."""
    return f"{socket.gethostname()}:{os.getpid()}:{suffix}"


def orphaned(holder: str | None, me: str) -> bool:
    """Whether a claim was left by a process of this host that is gone (killed, crashed):
    its work can be taken over at once instead of after the lease. A holder with this very
    name is a previous incarnation when the new process happens to get the same pid."""
    if holder is None:
        return False
    if holder == me:
        return True
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def release_orphans(session: Session, *, worker_id: str) -> int:
    """Put back the running jobs of dead processes of this host (called when a worker starts)."""
    released = 0
    for job in session.scalars(select(Job).where(Job.status == RUNNING)):
        if orphaned(job.locked_by, worker_id):
            job.status = PENDING
            job.locked_by = None
            job.run_after = utcnow()
            released += 1
    if released:
        log.warning("released jobs of a stopped worker", extra={"count": released})
    return released


def backoff(attempt: int, base_seconds: float) -> timedelta:
    # Exponential with ±20 % jitter so that a crowd of retries does not arrive together.
    seconds = base_seconds * (2 ** max(attempt - 1, 0))
    return timedelta(seconds=min(seconds, 6 * 3600) * random.uniform(0.8, 1.2))  # noqa: S311


def ensure_scheduled(session: Session, *, kind: str, run_after: datetime | None = None) -> Job:
    """The pending job of a periodic kind, enqueued when there is none."""
    pending = session.scalars(
        select(Job).where(Job.kind == kind, Job.status == PENDING).order_by(Job.id).limit(1)
    ).first()
    return pending or enqueue(session, kind=kind, payload={}, run_after=run_after)


@dataclass
class Worker:
    """Runs jobs from the table. One instance per process; `run_once` is the unit tests drive.

    `periodic` kinds (a checkpoint, the blob collector) keep one pending job each: ensured when
    the worker starts, and the next one enqueued, `every` later, in the transaction of a run.
    """

    factory: sessionmaker[Session]
    handlers: Mapping[str, Handler]
    backoff_seconds: float = 2.0
    worker_id: str = ""
    periodic: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.worker_id:
            self.worker_id = process_id(f"worker-{threading.get_ident()}")

    def run_once(self) -> Job | None:
        with self.factory.begin() as session:
            job = claim(session, worker_id=self.worker_id)
            if job is None:
                return None
            job_id, kind, payload, attempt = job.id, job.kind, dict(job.payload), job.attempts
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {kind!r}")
            with self.factory.begin() as session:
                handler(JobContext(session=session, job_id=job_id, attempt=attempt), payload)
                done = session.get_one(Job, job_id)
                done.status = DONE
                done.finished_at = utcnow()
                done.last_error = None
                if kind in self.periodic:
                    ensure_scheduled(session, kind=kind, run_after=utcnow() + self.periodic[kind])
        except Exception as exc:
            self._record_failure(job_id, attempt, exc)
        with self.factory() as session:
            return session.get(Job, job_id)

    def _record_failure(self, job_id: int, attempt: int, exc: Exception) -> None:
        with self.factory.begin() as session:
            job = session.get_one(Job, job_id)
            job.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            job.locked_by = None
            if attempt >= job.max_attempts:
                job.status = DEAD
                job.finished_at = utcnow()
                log.error("job dead", extra={"job_id": job_id, "kind": job.kind, "error": str(exc)})
            else:
                job.status = PENDING
                job.run_after = utcnow() + backoff(attempt, self.backoff_seconds)
                log.warning(
                    "job failed, will retry",
                    extra={"job_id": job_id, "kind": job.kind, "attempt": attempt},
                )

    def run_until_idle(self, limit: int = 10_000) -> int:
        ran = 0
        while ran < limit and self.run_once() is not None:
            ran += 1
        return ran

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        log.info("worker started", extra={"worker": self.worker_id})
        try:
            with self.factory.begin() as session:
                release_orphans(session, worker_id=self.worker_id)
                for kind in self.periodic:
                    ensure_scheduled(session, kind=kind)
        except Exception:
            log.exception("could not release orphaned jobs or schedule periodic ones")
        while not stop.is_set():
            try:
                if self.run_once() is None:
                    stop.wait(poll_seconds)
            except Exception:  # a broken database must not kill the loop: log and retry
                log.exception("worker loop error")
                stop.wait(poll_seconds)
        log.info("worker stopped", extra={"worker": self.worker_id})


def requeue(session: Session, *, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"Không có công việc số {job_id}.", f"No job {job_id}.", code="unknown_job")
    if job.status != DEAD:
        raise Invalid(
            f"Chỉ đưa lại được công việc đã hỏng (trạng thái hiện tại: {job.status}).",
            f"Only dead jobs can be requeued (current status: {job.status}).",
            code="job_not_dead",
        )
    job.status = PENDING
    job.attempts = 0
    job.run_after = utcnow()
    job.finished_at = None
    return job


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = dict.fromkeys(JOB_STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts
