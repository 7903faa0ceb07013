"""A throw-away PostgreSQL cluster from the system's binaries, for the test session and the
benchmarks that need PostgreSQL (``sanshe bench scale`` without ``--database-url``).

The tests use it when ``SANSHE_TEST_POSTGRES_URL`` does not name a server already running.
PostgreSQL refuses to run as root, so under root the cluster is owned and run by the
``postgres`` user (which the Debian packages create).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("no PostgreSQL binaries (initdb) found")
        self.bindir = bindir
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run the server"
                ) from None
            self.run_as = "postgres"
        self.dir = Path(tempfile.mkdtemp(prefix="sanshe-pg-"))
        self.port = _free_port()
        self.datadir = self.dir / "data"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def start(self) -> str:
        if self.run_as:
            shutil.chown(self.dir, user=self.run_as)
            os.chmod(self.dir, 0o700)
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            cwd=self.dir,
        )
        self.options = options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.dir / "server.log"),
                "-w",
                "start",
            ),
            capture_output=True,
            cwd=self.dir,
            text=True,
        )
        if result.returncode != 0:
            log = (self.dir / "server.log").read_text() if (self.dir / "server.log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr}\n{log}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        """The server's log (errors, e.g. a constraint violation, are written here)."""
        return self.dir / "server.log"

    def pause(self) -> None:
        """Stop the server, keeping its data: connections drop as in a restart."""
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"),
            check=True,
            capture_output=True,
            cwd=self.dir,
        )

    def resume(self) -> None:
        """Start it again after ``pause``, as ``start`` did."""
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                self.options,
                "-l",
                str(self.log_path),
                "-w",
                "start",
            ),
            check=True,
            capture_output=True,
            cwd=self.dir,
        )

    def stop(self) -> None:
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"),
            capture_output=True,
            cwd=self.dir,
        )
        shutil.rmtree(self.dir, ignore_errors=True)
