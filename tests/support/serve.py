"""A real ``sanshe serve`` of this checkout in a subprocess, its output in a log file.

The venv's ``sanshe`` script may belong to another checkout (a worktree sharing the venv), so the
process gets this checkout's code first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import dispatch
from tests.support.waiting import wait_until

SOURCE = str(Path(dispatch.__file__).resolve().parents[1])
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanshe_env(**settings: str) -> dict[str, str]:
    """The environment for a ``sanshe`` subprocess: no SANSHE_* of ours, these settings, this code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    env |= {"SANSHE_SERVER__SIMULATOR": "false", "SANSHE_SERVER__TRACKING_LOOP": "false", **settings}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p)
    return env


@dataclass
class Served:
    base: str
    log: Path
    process: subprocess.Popen[bytes]


@contextmanager
def served(env: dict[str, str], workdir: Path, *, timeout: float = 180) -> Iterator[Served]:
    """``sanshe serve`` on a free port until the block ends; its output goes to ``workdir/server.log``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "sanshe"), "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(up, timeout=timeout, interval=0.2), log.read_text()
        yield Served(base, log, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
