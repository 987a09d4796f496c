"""Issue 10 #22: `make run`'s runner stops web, worker and beat once each, within seconds.

`make run` starts supervisord with config/supervisord.conf after migrating. This starts the
same runner the same way on the embedded default (SQLite and the filesystem broker in a
temporary folder), waits until the site answers and the worker and beat are up, sends the
runner SIGTERM (what Ctrl-C's SIGINT also does) and checks that every process it started is
gone within seconds, each stopped once, with no traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BIN = Path(sys.executable).parent
CONF = Path(settings.BASE_DIR) / "config" / "supervisord.conf"
STOP_WITHIN = 15.0  # seconds; web and beat stop at once, the idle worker's warm shutdown takes ~7 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every process under pid, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _program_pid(runner: int, word: str) -> int:
    """The pid of the runner's child whose command line has word."""
    for pid in _descendants(runner):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == runner and word.encode() in command:
            return pid
    raise AssertionError(f"no {word} under the runner")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_issue10_runner_stops_web_worker_and_beat_once_within_seconds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #22 (and #6 for the embedded default's runner): a worker that dies is started
    again; SIGTERM to `make run`'s runner stops all three once each, within seconds, and
    leaves no process and no traceback behind."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        TANDEM_DATA_DIR=str(tmp_path / "data"),
        BIN=str(BIN),
        HOST="127.0.0.1",
        PORT=str(port),
        RUN_DIR=str(tmp_path / "run"),
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    (tmp_path / "run").mkdir()
    cwd = str(settings.BASE_DIR)
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"],
        cwd=cwd,
        env=env,
        check=True,
        timeout=120,
    )
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        runner = subprocess.Popen(
            [str(BIN / "supervisord"), "-c", str(CONF)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert _wait(lambda: _answers(f"http://127.0.0.1:{port}/accounts/login/"), 60), (
            log_path.read_text()
        )
        assert _wait(
            lambda: "ready." in log_path.read_text() and "beat: Starting" in log_path.read_text(),
            60,
        ), log_path.read_text()
        first_processes = _descendants(runner.pid)
        assert len(first_processes) >= 3  # web, worker (and its pool), beat

        # A worker that dies is started again (issue 10 #6: nobody restarts it by hand).
        os.kill(_program_pid(runner.pid, "worker"), signal.SIGKILL)
        assert _wait(lambda: log_path.read_text().count("ready.") == 2, 60), log_path.read_text()
        assert "exited: worker (terminated by SIGKILL; not expected)" in log_path.read_text()
        processes = _descendants(runner.pid) | first_processes

        started = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=STOP_WITHIN + 10)
        took = time.monotonic() - started
        assert _wait(lambda: not any(_alive(p) for p in processes), 5), (
            "a process outlived the runner"
        )
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        for pid in _descendants(runner.pid):
            os.kill(pid, signal.SIGKILL)

    output = log_path.read_text()
    assert took < STOP_WITHIN, f"stopping took {took:.1f} s\n{output}"
    assert runner.returncode == 0, output
    assert "Traceback" not in output, output
    assert "Segmentation fault" not in output, output
    assert output.count("Warm shutdown") == 1, output  # one stop signal, one shutdown
    for program in ("web", "worker", "beat"):
        assert output.count(f"stopped: {program} (") == 1, output
    assert "stopped: worker (exit status 0)" in output, output
    assert "stopped: beat (exit status 0)" in output, output
