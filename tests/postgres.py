"""A throwaway PostgreSQL server for tests: initdb into a temporary folder, pg_ctl start on a free port.

A test may crash the server and start it again on the same port and data (a database
restart or fail-over seen by the services).

The binaries come from PATH, else from Debian's ``/usr/lib/postgresql/*/bin``. PostgreSQL
refuses to run as root: there the server runs as the ``postgres`` user (made by Debian's
package) through ``runuser``, with its folder handed over to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.support import free_port

__all__ = ["PostgresServer", "find_pg_bin"]

USER = "sitless"


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None where PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("pg_ctl") is not None:
        return Path(on_path).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


class PostgresServer:
    """A PostgreSQL server of its own, trusting local logins of the user ``sitless``.

    Args:
        bin_dir: The folder of ``initdb`` and ``pg_ctl`` (:func:`find_pg_bin`).

    Raises:
        RuntimeError: It runs as root and there is no ``postgres`` user to run the server as.
        RuntimeError: initdb or pg_ctl failed (the error carries their message).
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sitless-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        #: Whether the server is up (between :meth:`start` and :meth:`crash` or :meth:`stop`).
        self.running = False
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as err:
                raise RuntimeError("PostgreSQL will not run as root and there is no 'postgres' user") from err
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        self._count = 0

    def start(self) -> None:
        """Start the server on its port and folder, and return once it takes connections.

        Raises:
            RuntimeError: pg_ctl failed, or the server is running already.
        """
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self.running = True

    def crash(self) -> None:
        """Stop the server as a crash or a fail-over does: every connection cut at once, nothing
        flushed; its databases are kept, and :meth:`start` brings them back after recovery.

        Raises:
            RuntimeError: pg_ctl failed, or the server is not running.
        """
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin_dir / program), *args], capture_output=True, text=True, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def url(self, database: str) -> str:
        """The store URL of one database of this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its store URL."""
        self._count += 1
        name = f"test_{self._count}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once (if it runs) and delete its folder."""
        try:
            if self.running:
                self.crash()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
