"""The demo's folder: one demo holds it at a time, its own store starts afresh, a store the user names is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.demo_folder import DEMO_STORE_URL, DemoFolderError, fresh_store, hold_demo_folder
from ingest.errors import StoreError

#: A demo-like holder of the lock given as its argument: it starts a child that keeps
#: every descriptor it may (``close_fds=False``), prints that child's pid, then waits.
HOLDER = """
import subprocess, sys
from pathlib import Path
from ingest.demo_folder import hold_demo_folder
with hold_demo_folder(Path(sys.argv[1])):
    child = subprocess.Popen(["sleep", "600"], close_fds=False, start_new_session=True)
    print(child.pid, flush=True)
    sys.stdin.read()
"""


def test_the_demo_empties_only_its_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "var" / "demo.sqlite"
    own.parent.mkdir()
    own.write_bytes(b"yesterday's demo")
    mine = tmp_path / "mine.sqlite"
    mine.write_bytes(b"a user's data")
    assert fresh_store(DEMO_STORE_URL) == DEMO_STORE_URL
    assert not own.exists()
    url = f"sqlite:///{mine}"
    assert fresh_store(url) == url
    assert mine.read_bytes() == b"a user's data"


def test_a_second_holder_is_refused_naming_the_first_until_it_lets_go(tmp_path: Path) -> None:
    """The lock is the folder's, not the process's: a second take in the same process is refused too."""
    lock = tmp_path / "var" / "demo.lock"
    with hold_demo_folder(lock):
        assert lock.read_text() == f"{os.getpid()}\n"
        with pytest.raises(DemoFolderError) as refused, hold_demo_folder(lock):
            pass
    assert str(refused.value) == (
        f"another sitless demo (pid {os.getpid()}) runs in this folder; stop it or run this one elsewhere"
    )
    with hold_demo_folder(lock):  # let go at the end of the block
        pass


def test_a_killed_holder_lets_go_though_its_child_lives_on(tmp_path: Path) -> None:
    """SIGKILL ends the lock with the demo; a child it started (a dashboard, a broker) does not hold it."""
    lock = tmp_path / "var" / "demo.lock"
    cmd = [sys.executable, "-c", HOLDER, str(lock)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        child = int(holder.stdout.readline())  # printed once the lock is held
        try:
            with pytest.raises(DemoFolderError, match=f"pid {holder.pid}"), hold_demo_folder(lock):
                pass
            holder.kill()
            holder.wait(30)
            os.kill(child, 0)  # still running
            with hold_demo_folder(lock):
                pass
        finally:
            holder.kill()
            os.kill(child, signal.SIGKILL)


def test_a_folder_where_the_demo_store_belongs_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder at ``var/demo.sqlite`` cannot be emptied: the error says so, naming it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var" / "demo.sqlite").mkdir(parents=True)
    with pytest.raises(StoreError, match=r"^cannot empty the demo's store: var/demo\.sqlite is a folder, not a file$"):
        fresh_store(DEMO_STORE_URL)


def test_a_file_where_the_demo_folder_belongs_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named ``var`` is named as what stands in the way, for the lock and a store under it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").write_text("not a folder")
    refused = r"^cannot make the demo's folder \(var\): var is a file, not a folder$"
    with pytest.raises(DemoFolderError, match=refused), hold_demo_folder():
        pass
    with pytest.raises(StoreError, match=r": var is a file, not a folder$"):
        fresh_store("sqlite:///var/mine/store.sqlite")
