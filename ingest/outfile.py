"""Writing a command's output file whole or not at all: ``sitless export``, ``report --html`` and ``analyze --json``.

A file (or no file yet) is written under a temporary name beside it
(``OUT.PID-RANDOM.partial``: two runs writing the same file do not write into one
another) and put in place once complete, so a failure (a full disk, a store that stops
answering, Ctrl-C) leaves the old file, or none, and no part. Without ``replace``, a file that
appeared at ``OUT`` while the output was being made is kept and the command fails: the
commands check for an existing file before they start, and this closes the gap after it.
Anything else named (a link, a pipe, ``/dev/stdout``, ``/dev/null``) is written in place,
as a stream that cannot seek: a device file may claim to seek and not keep its place.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["exists_message", "write_file"]

T = TypeVar("T")


def exists_message(out: Path) -> str:
    """What a command says of an output file that exists without ``--force``."""
    return f"{out} exists; add --force to replace it"


def write_file(out: Path, write: Callable[[IO[bytes]], T], *, replace: bool) -> T:
    """Have ``write`` write the file ``out`` whole, or leave no trace of it.

    Args:
        out: The output file.
        write: Writes the content to the binary file it is given and returns a result.
        replace: Replace a file at ``out``; without it, a file there is kept and this fails.

    Returns:
        What ``write`` returned.

    Raises:
        OSError: The file cannot be written, or exists and ``replace`` is false.
    """
    if out.is_symlink() or (out.exists() and not out.is_file()):  # a link, even to nothing yet, is written through
        if not replace:
            raise FileExistsError(exists_message(out))
        with out.open("wb", buffering=0) as raw, io.BufferedWriter(_Stream(raw)) as stream:
            return write(stream)
    if not out.parent.is_dir():  # said of the output, not of the temporary file that would fail first
        raise FileNotFoundError(f"cannot write {out}: no such folder {out.parent}")
    partial = out.with_name(f"{out.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")  # its own, for each run
    try:
        with partial.open("xb") as f:
            result = write(f)
        if replace:
            partial.replace(out)
        else:
            _place_new(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return result


def _place_new(partial: Path, out: Path) -> None:
    """Put ``partial`` at ``out`` unless a file is there: a hard link never replaces one."""
    try:
        os.link(partial, out)
    except FileExistsError:
        raise FileExistsError(exists_message(out)) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A file system without hard links: the check and the rename are apart, by a moment.
        if out.exists():
            raise FileExistsError(exists_message(out)) from None
        partial.replace(out)


class _Stream(io.RawIOBase):
    """Writes to a file that it never asks to seek or to tell its place."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def writable(self) -> bool:
        return True

    def write(self, data: WriteableBuffer, /) -> int:
        return self._raw.write(data)
