"""The bare-parse child: read a recording with ``sitless analyze``'s reader and discard it.

Run as ``python -m bench.parse FILE``. It imports nothing but the reader, so its cost
is the floor that ``sitless analyze FILE`` is compared with.
"""

from __future__ import annotations

import sys

from ingest.recording import read_chunks

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Read every file named in ``argv`` chunk by chunk; print the number of samples of each."""
    for path in argv:
        samples = 0
        for t_s, _acc_g, _gyro in read_chunks(path):
            samples += t_s.shape[0]
        print(f"{path}: {samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
