"""``ingest.outfile``: a command's output file is written whole or not at all."""

from __future__ import annotations

import errno
import os
import zipfile
from pathlib import Path
from typing import IO

import pytest

from ingest.outfile import write_file


def _half_then_fail(f: IO[bytes]) -> None:
    f.write(b"half")
    raise RuntimeError("the source went away")


@pytest.mark.parametrize("replace", [True, False])
def test_a_new_file_is_written_whole_and_what_write_returns_comes_back(tmp_path: Path, replace: bool) -> None:
    out = tmp_path / "out.bin"
    assert write_file(out, lambda f: f.write(b"all of it"), replace=replace) == 9
    assert out.read_bytes() == b"all of it"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_replace_puts_the_new_file_over_the_old(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    write_file(out, lambda f: f.write(b"new"), replace=True)
    assert out.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("replace", [True, False])
def test_a_failure_leaves_the_old_file_or_none_and_no_part(tmp_path: Path, replace: bool) -> None:
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="went away"):
        write_file(kept, _half_then_fail, replace=True)
    assert kept.read_bytes() == b"old"
    new = tmp_path / "new.bin"
    with pytest.raises(RuntimeError):
        write_file(new, _half_then_fail, replace=replace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.bin"]


def test_without_replace_a_file_that_appeared_meanwhile_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"

    def write(f: IO[bytes]) -> None:
        out.write_bytes(b"someone else's")
        f.write(b"ours")

    with pytest.raises(FileExistsError, match="exists; add --force to replace it") as caught:
        write_file(out, write, replace=False)
    assert str(caught.value) == f"{out} exists; add --force to replace it"
    assert out.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("no_link", [errno.EPERM, errno.EXDEV])
def test_on_a_file_system_without_hard_links_the_file_is_still_placed_and_still_not_over_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_link: int
) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError(no_link, os.strerror(no_link))

    monkeypatch.setattr("ingest.outfile.os.link", refuse)
    out = tmp_path / "out.bin"
    write_file(out, lambda f: f.write(b"placed"), replace=False)
    assert out.read_bytes() == b"placed"
    with pytest.raises(FileExistsError):
        write_file(out, lambda f: f.write(b"again"), replace=False)
    assert out.read_bytes() == b"placed"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_link_is_written_through_in_place_and_kept_on_a_failure(tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    target.write_bytes(b"")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    write_file(link, lambda f: f.write(b"through"), replace=True)
    assert link.is_symlink()
    assert target.read_bytes() == b"through"
    with pytest.raises(RuntimeError):
        write_file(link, _half_then_fail, replace=True)
    assert link.is_symlink()
    assert target.read_bytes() == b"half"
    with pytest.raises(FileExistsError):
        write_file(link, lambda f: f.write(b"no"), replace=False)
    assert target.read_bytes() == b"half"


def test_a_pipe_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_file(fifo, lambda f: f.write(b"streamed"), replace=True)
        assert os.read(reader, 100) == b"streamed"
    finally:
        os.close(reader)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_device_file_gets_a_stream_that_does_not_seek_so_a_zip_archive_can_be_written_to_it() -> None:
    """/dev/null claims to seek and always tells 0: a ZIP archive written to it as to a
    file would go back to rewrite its headers and fail closing it."""

    def archive(f: IO[bytes]) -> bool:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("a.txt", "a" * 1000)
            z.writestr("b.txt", "b")
        return f.seekable()

    assert write_file(Path("/dev/null"), archive, replace=True) is False


def test_two_runs_writing_the_same_file_at_once_do_not_write_into_one_another(tmp_path: Path) -> None:
    """The second run starts and ends while the first writes: each writes its own temporary
    file, so the file is one run's output whole (the last placed), never a mix."""
    out = tmp_path / "out.bin"

    def first(f: IO[bytes]) -> None:
        f.write(b"first, ")
        write_file(out, lambda g: g.write(b"second, whole"), replace=True)
        assert out.read_bytes() == b"second, whole"
        f.write(b"whole")

    write_file(out, first, replace=True)
    assert out.read_bytes() == b"first, whole"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_the_file_gets_the_permissions_a_new_file_gets(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "out.bin"
    write_file(out, lambda f: f.write(b"x"), replace=False)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_link_to_nothing_yet_is_written_through_and_kept_without_replace_refused(tmp_path: Path) -> None:
    """A dangling link is a link too: written through with ``replace``, the link kept; refused without."""
    target = tmp_path / "later" / "target.bin"
    target.parent.mkdir()
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        write_file(link, lambda f: f.write(b"no"), replace=False)
    assert not target.exists()
    write_file(link, lambda f: f.write(b"through"), replace=True)
    assert link.is_symlink()
    assert target.read_bytes() == b"through"


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "out.zip"
    with pytest.raises(FileNotFoundError) as info:
        write_file(out, lambda f: f.write(b"x"), replace=False)
    assert str(out.parent) in str(info.value)
    assert ".partial" not in str(info.value)
    assert not out.parent.exists()
