"""A throwaway PostgreSQL cluster in a temp dir (Debian's `postgresql` binaries), restartable.

One helper for every test that needs a real PostgreSQL: the service tests share one cluster per
session, the store-outage test restarts its own mid-run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.material import postgres_bindir as server_binaries
from tests.material import unavailable


class Cluster:
    def __init__(self, max_connections: int = 100) -> None:
        bindir = server_binaries()
        if bindir is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
        if importlib.util.find_spec("psycopg") is None:
            unavailable("psycopg is not installed (make install)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="uschina-pg-"))
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.max_connections = max_connections
        self.data = self.root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / tool), *args], check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.root / "log"),
            "-o",
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -F -c max_connections={self.max_connections}",
            *args,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A fast restart: every connection is dropped, in-flight transactions roll back."""
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )

    def url(self, db: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database (dropped first if it exists); returns its URL."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
