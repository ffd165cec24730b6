"""Opening a recording file: regular files only, and CSV text whose lines are of bounded length.

``sitless analyze`` opens its input more than once: to tell the format, to probe the
first time, to read the chunks and, after a value that is not a number, to read them
again as text; a ``.gt3x`` zip keeps its directory at its end. A pipe gives each open
different bytes (``<(cat day.csv)`` lost its first lines to the format probe and was
then refused for "missing columns"), a FIFO with no writer blocks the first open for
ever, and ``/dev/zero`` never ends. So :func:`check_regular_file` refuses whatever is
not a regular file, from ``os.stat`` alone, before anything opens it. Refusing is
simpler and more honest than copying the stream to a temporary file first: that copy
would have no bound (``/dev/zero`` would fill the disk) and would hide the cost of a
week's gigabyte behind a quiet pause; ``cat`` to a file does the same in plain sight.

pandas' C reader holds a whole line while it tokenises it, and an error message
quoted the line: one line of 300 MB (a file of NUL bytes) took 4.1 GB and wrote a
1.26 GB message. :func:`open_csv` hands pandas the file's text, decompressed when its
first bytes say gzip, bzip2 or xz, through a reader that refuses a line longer than
:data:`MAX_LINE_BYTES` after reading at most that much of it. pandas reads 256 KiB at a
time through one Python call, so the check costs two byte searches a block.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.errors import RecordingError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["MAX_LINE_BYTES", "check_regular_file", "open_csv"]

#: Longest line a CSV recording may hold, bytes. A row of seven numbers is under 200
#: bytes and an ActiLife header line under 100; a longer line is a damaged or a binary
#: file, and pandas would hold all of it at once.
MAX_LINE_BYTES = 1 << 20
#: First bytes of the compressed files ``open_csv`` reads: gzip (RFC 1952, 2.3.1),
#: bzip2 ("BZh" and the block size) and xz (the .xz file format, 2.1.1.1).
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


def check_regular_file(path: Path) -> None:
    """Refuse a path that is not a regular file (or a link to one), without opening it.

    Raises:
        RecordingError: No such file, a folder, or a pipe, FIFO, socket or device; the
            message names the path and says to save the data to a file first.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as err:
        raise RecordingError(f"{path}: no such file") from err
    except OSError as err:
        raise RecordingError(f"{path}: cannot read: {err.strerror or err}") from err
    if stat.S_ISDIR(mode):
        raise RecordingError(f"{path}: is a folder, not a recording file")
    if not stat.S_ISREG(mode):
        raise RecordingError(
            f"{path}: not a regular file (a pipe, FIFO or device): recordings are read more than once;"
            " save it to a file first"
        )


@contextlib.contextmanager
def open_csv(path: Path, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[io.RawIOBase]:
    """Open a CSV's text, decompressed when its first bytes say so, refusing lines over ``max_line_bytes``.

    Args:
        path: A regular file (``check_regular_file``), plain or gzip, bzip2 or xz
            compressed whatever its name.
        max_line_bytes: Longest line accepted, bytes of text, line break excluded.

    Yields:
        A binary stream of the text. Reading it raises ``RecordingError`` once a line
        runs past ``max_line_bytes`` (naming the file and where the line starts),
        ``EOFError`` when compressed data is cut short and ``OSError`` when it is damaged
        or the file cannot be read, whatever the compression.

    Raises:
        OSError: The file cannot be opened.
    """
    with (
        path.open("rb") as raw,
        _decompressed(raw) as inner,
        _LineBound(inner, path, max_line_bytes) as bounded,
    ):
        yield bounded


def _decompressed(raw: io.BufferedReader) -> io.BufferedIOBase:
    """``raw`` decompressed when its first bytes are gzip's, bzip2's or xz's, else ``raw`` itself."""
    magic = raw.peek(len(_XZ_MAGIC))[: len(_XZ_MAGIC)]
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(_BZIP2_MAGIC):
        return bz2.BZ2File(raw)
    if magic.startswith(_XZ_MAGIC):
        return lzma.LZMAFile(raw)
    return raw


class _LineBound(io.RawIOBase):
    r"""A binary stream over ``inner`` that raises ``RecordingError`` once a line runs past ``max_line_bytes``.

    Each read returns at most ``max_line_bytes``, so a line inside one block is never too
    long; only the line running into a block and the one running out of it are measured.
    Lines end at LF, or at CR in a block without LF (old Mac line ends, which pandas reads);
    so a CR that ends a block ends its line, a byte before the LF of a CRLF would.

    >>> stream = _LineBound(io.BytesIO(b"t,ax\n0,1\n" + b"9" * 20), Path("x.csv"), 16)
    >>> stream.read(8), stream.read(8)
    (b't,ax\n0,1', b'\n9999999')
    >>> stream.read(99)
    Traceback (most recent call last):
    ...
    ingest.errors.RecordingError: x.csv: the line at byte 9 is longer than 16 bytes: not a CSV recording
    """

    def __init__(self, inner: io.BufferedIOBase, path: Path, max_line_bytes: int) -> None:
        super().__init__()
        self._inner = inner
        self._path = path
        self._max = max_line_bytes
        self._offset = 0  # bytes read so far
        self._line_start = 0  # offset where the line being read starts

    def readable(self) -> bool:
        """Always true."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes, at most ``max_line_bytes``; all the rest when ``size`` is negative."""
        if size is None or size < 0:
            return self.readall()
        try:
            data = self._inner.read(min(size, self._max))
        except (zlib.error, lzma.LZMAError) as err:  # damaged data, as bzip2's decompressor says it
            raise OSError(str(err)) from err
        self._measure(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read into ``buffer``; the number of bytes read."""
        with memoryview(buffer) as view:
            data = self.read(view.nbytes)
            view.cast("B")[: len(data)] = data
        return len(data)

    def _measure(self, data: bytes) -> None:
        start = self._offset
        self._offset += len(data)
        sep = b"\n"
        last = data.rfind(sep)
        if last < 0:
            sep = b"\r"
            last = data.rfind(sep)
        if last >= 0:
            if start + data.find(sep) - self._line_start > self._max:
                self._refuse()
            self._line_start = start + last + 1
        if self._offset - self._line_start > self._max:
            self._refuse()

    def _refuse(self) -> None:
        raise RecordingError(
            f"{self._path}: the line at byte {self._line_start} is longer than {self._max} bytes: not a CSV recording"
        )
