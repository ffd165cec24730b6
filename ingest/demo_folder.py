"""The demo's folder ``var/``: one ``sitless demo`` at a time holds it, and the demo's own store starts afresh there.

Two demos started in the same folder would share everything in ``var/``: the second
emptied the store the first was writing (its recorder and worker went on into the
deleted file while its dashboard read the new one), and both used the same broker
folder and the simulated wearer's sequence memory. So the demo holds an exclusive lock
on ``var/demo.lock`` (``flock``, taken before anything else in ``var/`` is touched) for
as long as it runs, and a second demo there is refused at once. The kernel lets go of
the lock when the demo's process ends, even on ``SIGKILL``, and the file descriptor is
not inherited (``O_CLOEXEC``): the dashboard or broker left running by a killed demo
does not hold it. The file keeps the holder's pid, which the refusal names.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import IngestError, StoreError
from ingest.store import parse_store_url

__all__ = ["DEMO_LOCK", "DEMO_STORE_URL", "DemoFolderError", "fresh_store", "hold_demo_folder"]

#: The demo's own store, started afresh each time.
DEMO_STORE_URL = "sqlite:///var/demo.sqlite"
#: The lock a running demo holds, beside its store.
DEMO_LOCK = Path("var/demo.lock")


class DemoFolderError(IngestError):
    """The demo's folder cannot be used: another demo holds it, or a file stands where a folder belongs."""


@contextlib.contextmanager
def hold_demo_folder(lock: Path = DEMO_LOCK) -> Iterator[None]:
    """Hold the demo's lock for the block, making its folder if need be.

    Args:
        lock: The lock file; its folder is the one the demo keeps to itself.

    Raises:
        DemoFolderError: Another demo holds the lock (its pid in the message), or the
            lock file cannot be made (a file where its folder belongs, no permission).
    """
    _make_folder(lock.parent, "the demo's folder")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise DemoFolderError(_file_problem(lock, "open the demo's lock file", err)) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise DemoFolderError(
                f"another sitless demo{'' if holder is None else f' (pid {holder})'} runs in this folder;"
                " stop it or run this one elsewhere"
            ) from None
        except OSError as err:
            raise DemoFolderError(f"cannot lock {lock}: {err.strerror or err}") from err
        with contextlib.suppress(OSError):  # the pid only names the holder in a refusal
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> int | None:
    """The pid the lock's holder wrote, or None if it has not written it yet."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None


def fresh_store(url: str) -> str:
    """Make ready the store the demo uses: the demo's own (:data:`DEMO_STORE_URL`) starts afresh, another is kept.

    The folder of a SQLite store is made if need be; a PostgreSQL store is left to the
    services, which make its tables.

    Args:
        url: The store URL.

    Returns:
        The store URL to use.

    Raises:
        StoreError: The URL is not a store's, its folder cannot be made, or the demo's
            own store cannot be emptied (a folder where it belongs, no permission); the
            message names the path.
    """
    path = parse_store_url(url).path
    if path is None:
        return url
    _make_folder(path.parent, f"the folder of store {url}", StoreError)
    if url == DEMO_STORE_URL:
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            try:
                part.unlink(missing_ok=True)
            except OSError as err:
                raise StoreError(_file_problem(part, "empty the demo's store", err)) from err
    return url


def _make_folder(folder: Path, what: str, error: type[IngestError] = DemoFolderError) -> None:
    """Make ``folder`` and its parents, or raise ``error`` saying which path is in the way.

    Raises:
        IngestError: ``error``, naming the file that stands where a folder belongs, or
            why the folder cannot be made.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((p for p in [*reversed(folder.parents), folder] if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise error(f"cannot make {what} ({folder}): {blocker} is a file, not a folder") from err
        raise error(f"cannot make {what} ({folder}): {err.strerror or err}") from err


def _file_problem(path: Path, action: str, err: OSError) -> str:
    """One line saying why ``action`` failed on ``path``."""
    if path.is_dir():
        return f"cannot {action}: {path} is a folder, not a file"
    return f"cannot {action} {path}: {err.strerror or err}"
