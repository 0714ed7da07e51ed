"""A throwaway PostgreSQL server on loopback, for the tests that need one (the MLflow team deployment, score on
a PostgreSQL table). Without Debian's `postgresql` package they skip with an install hint."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness._util.processes import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder; the test skips with an install hint without one."""
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.skip(f"PostgreSQL is not installed under {PG_ROOT}: install it with 'apt-get install postgresql' "
                    "(make test does this as root)")
    return found[-1].parent


@dataclass
class PostgresServer:
    """A throwaway cluster in a temporary folder, listening on a loopback port only, trusting local users."""

    bin: Path
    data: Path
    port: int
    as_user: list[str]

    @property
    def dsn(self) -> str:
        return f"postgresql://mlflow@127.0.0.1:{self.port}/mlflow"

    @property
    def uri(self) -> str:
        """The backend store URI; SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, so name the driver."""
        return f"postgresql+psycopg2://mlflow@127.0.0.1:{self.port}/mlflow"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")

    @classmethod
    def start(cls) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="policy-harness-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root
            shutil.chown(root, user="postgres", group="postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(bin=postgres_bin(), data=root / "data", port=free_port(), as_user=as_user)
        server._run("initdb", "-D", str(server.data), "-U", "mlflow", "--auth=trust", "-E", "UTF8")
        server._run("pg_ctl", "-D", str(server.data), "-l", str(root / "postgres.log"), "-w", "-t", "60",
                    "-o", f"-p {server.port} -c listen_addresses=127.0.0.1 -k {root}", "start")
        server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "mlflow", "mlflow")
        return server

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg2

        with psycopg2.connect(self.dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
