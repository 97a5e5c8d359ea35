"""CPU by stage (kernel/stages.py), as a benchmark reads it from a node process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import os, signal, time
    from sqlalchemy import text
    from lienthong.db import make_engine
    from lienthong.kernel import stages

    engine = make_engine("sqlite:///" + os.environ["DB"])

    def burn(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    with stages.stage("parse"):
        burn(0.05)
        with stages.stage("verify"):
            burn(0.10)
        with engine.begin() as conn:
            for i in range(7):
                conn.execute(text("select :i"), {"i": i})
    os.kill(os.getpid(), signal.SIGUSR1)
    """
)


def test_a_process_reports_each_stages_own_time_and_its_statements(tmp_path: Path) -> None:
    prefix = tmp_path / "stages"
    env = {**os.environ, "LIENTHONG_STAGE_REPORT": str(prefix), "DB": str(tmp_path / "x.db")}
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, timeout=60)
    (snapshot,) = [json.loads(p.read_text()) for p in tmp_path.glob("stages.*.1.json")]
    (final,) = [json.loads(p.read_text()) for p in tmp_path.glob("stages.*.final.json")]
    spent = snapshot["stages"]
    assert spent["verify"] >= 0.09
    # parse's own time leaves out the verify inside it
    assert 0.04 <= spent["parse"] < spent["verify"]
    assert spent["sql"] > 0
    assert snapshot["counts"]["statements"] >= 7
    assert snapshot["counts"]["commits"] >= 1
    assert snapshot["cpu_seconds"] >= spent["parse"] + spent["verify"]
    assert final["pid"] == snapshot["pid"]


def test_off_by_default_nothing_is_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIENTHONG_STAGE_REPORT"}
    env["DB"] = str(tmp_path / "x.db")
    script = SCRIPT.replace("os.kill(os.getpid(), signal.SIGUSR1)", "")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60, cwd=tmp_path)
    assert list(tmp_path.glob("*.json")) == []
