"""ActiGraph .gt3x files with log.bin (firmware 3 and later), built from ActiGraph's public format documentation.

Every byte sequence here follows ``actigraph/GT3X-File-Format`` (MIT), commit d4aa795:
``README.md`` (record layout: separator 0x1E, type, uint32 LE time stamp, uint16 LE size,
payload, checksum = complemented XOR of header and payload; zero bytes between records
are skipped; EVENT payloads 0x08 and 0x09 mark idle sleep), ``LogRecords/Activity.md``
(12-bit packed Y X Z samples and its worked example), ``LogRecords/Activity2.md`` (int16
LE X Y Z samples and its example payload), ``LogRecords/Parameters.md`` (the example
PARAMETERS record, ACCEL_SCALE 256 LSB/g) and ``LogRecords/Metadata.md`` (UTC files).
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from ingest.cli import main
from ingest.errors import RecordingError
from ingest.gt3x import gt3x_checksum, iter_gt3x_records
from ingest.loggers import LoggerFormat, detect_format
from ingest.recording import RecordingClock, read_chunks

#: Parameters.md, "Example": a whole PARAMETERS record, checksum 0x9B included.
PARAMETERS_EXAMPLE = bytes.fromhex(
    """
    1E 15 F2 24 D2 54 A8 01 00 00 06 00 02 00 00 00 00 00 07 00 81 95 41 03 00 00 08 00 03 00 00 00
    00 00 09 00 27 AA 0D 54 00 00 0D 00 25 00 01 01 00 00 10 00 00 00 80 E4 00 00 14 00 00 00 00 00
    00 00 15 00 00 00 00 00 00 00 16 00 00 00 00 00 00 00 17 00 00 00 00 00 00 00 1A 00 02 00 00 00
    00 00 1C 00 7D 01 00 00 00 00 1D 00 07 00 00 00 00 00 20 00 01 00 01 01 00 00 25 00 00 04 00 00
    00 00 26 00 00 00 00 00 00 00 31 00 00 00 40 0C 00 00 32 00 37 89 41 05 00 00 33 00 07 3A 6D 03
    00 00 37 00 00 00 40 09 00 00 39 00 AE 77 53 09 00 00 3A 00 00 00 54 05 01 00 00 00 00 00 00 00
    01 00 01 00 44 D4 12 AF 01 00 02 00 14 01 00 00 01 00 03 00 07 00 00 00 01 00 04 00 49 FF FF FF
    01 00 05 00 1A FF FF FF 01 00 06 00 52 FF FF FF 01 00 07 00 31 01 00 00 01 00 08 00 20 01 00 00
    01 00 09 00 24 01 00 00 01 00 0A 00 1E 00 00 00 01 00 0C 00 E0 25 D2 54 01 00 0D 00 70 85 D3 54
    01 00 0E 00 F2 24 D2 54 01 00 0F 00 44 00 00 00 01 00 10 00 1F 00 00 00 01 00 11 00 3F 00 00 00
    01 00 14 00 00 00 00 00 01 00 15 00 00 00 00 00 01 00 21 00 60 EA 00 00 01 00 22 00 1E F8 FF FF
    01 00 23 00 A7 F7 FF FF 01 00 24 00 DC F7 FF FF 01 00 25 00 1D 08 00 00 01 00 26 00 A4 07 00 00
    01 00 27 00 00 08 00 00 01 00 28 00 00 00 00 00 01 00 29 00 00 00 00 00 01 00 2A 00 FE FF FF FF
    01 00 2B 00 37 00 00 00 01 00 2C 00 00 00 00 00 9B
    """
)
#: Activity2.md, "Example": one second of 30 samples, int16 LE X Y Z.
ACTIVITY2_EXAMPLE = bytes.fromhex(
    """
    00 00 00 00 00 00 30 00 cc ff 42 01 03 00 fa ff 01 01 02 00 fc ff 02 01 01 00 fd ff 01 01 02 00
    fe ff 00 01 02 00 fd ff 01 01 02 00 fc ff 02 01 02 00 fd ff 02 01 02 00 fc ff 00 01 02 00 fd ff
    01 01 01 00 fd ff 00 01 02 00 fd ff ff 00 01 00 fd ff 01 01 02 00 fd ff 00 01 02 00 fd ff 02 01
    01 00 fe ff 00 01 02 00 fb ff 00 01 02 00 fd ff 00 01 01 00 fd ff 02 01 01 00 fd ff 01 01 01 00
    fc ff 00 01 02 00 fd ff 00 01 01 00 fc ff 02 01 02 00 fc ff ff 00 02 00 fd ff 02 01 02 00 fc ff
    00 01 02 00 fd ff 01 01 00 00 fc ff 01 01 02 00 fd ff 01 01
    """
)
#: Activity.md, "Example": three 12-bit samples (odd: the last nibble is unused).
ACTIVITY_EXAMPLE = bytes.fromhex("00 60 08 EB D0 07 00 9E BF 00 70 08 EB F0")
#: The values Activity.md's table gives for it at 341 LSB/g, X Y Z.
ACTIVITY_EXAMPLE_G = [[0.023, 0.018, -0.947], [0.026, 0.021, -0.941], [0.023, 0.021, -0.941]]

ACTIVITY, EVENT, METADATA, ACTIVITY2 = 0x00, 0x03, 0x06, 0x1A
#: 2021-12-20T11:55:00 as device local time (Unix seconds read as if UTC), and its .NET ticks.
START_S = 1_640_001_300
START_TICKS = 637_755_981_000_000_000
RATE_HZ = 30


def record(kind: int, timestamp_s: int, payload: bytes) -> bytes:
    """One log record with its checksum, as README.md "Log Record Format" lays it out."""
    body = struct.pack("<BBIH", 0x1E, kind, timestamp_s, len(payload)) + payload
    return body + bytes([gt3x_checksum(body)])


def gt3x(path: Path, log: bytes, serial: str = "MOS2E12345678", timezone: str | None = "-06:00:00") -> Path:
    """A .gt3x zip: info.txt (info.txt.md) and log.bin."""
    info = [f"Serial Number: {serial}", "Firmware: 1.9.2", f"Sample Rate: {RATE_HZ}", f"Start Date: {START_TICKS}"]
    if timezone is not None:
        info.append(f"TimeZone: {timezone}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("info.txt", "\n".join(info) + "\n")
        zf.writestr("log.bin", log)
    return path


def read_all(path: Path, chunk_rows: int = 5000) -> tuple[NDArray[np.float64], NDArray[np.float64], RecordingClock]:
    """All samples as ``(Unix time, acc_g (n, 3), clock)``."""
    clock = RecordingClock()
    chunks = list(read_chunks(path, chunk_rows=chunk_rows, clock=clock))
    assert clock.start_epoch_s is not None
    return (
        np.concatenate([c.t_s for c in chunks]) + clock.start_epoch_s,
        np.concatenate([c.acc_g for c in chunks]),
        clock,
    )


def idle_sleep_log() -> bytes:
    """Metadata, the documented PARAMETERS record, 2 s of ACTIVITY2, idle sleep for 3 s, 1 s more.

    With a USB-connection ACTIVITY2 of one byte and a few zero bytes between records, as
    the documentation says may occur.
    """
    meta = json.dumps({"MetadataType": "Subject", "SubjectName": "p02"}).encode()
    return b"".join(
        [
            record(METADATA, START_S - 60, meta),
            PARAMETERS_EXAMPLE,
            record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE),
            b"\x00\x00\x00",
            record(ACTIVITY2, START_S + 1, ACTIVITY2_EXAMPLE),
            record(EVENT, START_S + 1, b"\x08"),  # enters idle sleep
            record(EVENT, START_S + 5, b"\x09"),  # leaves it
            record(ACTIVITY2, START_S + 5, ACTIVITY2_EXAMPLE),
            record(ACTIVITY2, START_S + 6, b"\x01"),  # a USB connection, not samples
        ]
    )


def test_the_documented_parameters_record_passes_its_checksum() -> None:
    """Parameters.md's example record reads whole: the checksum rule is the documented one."""
    (rec,) = iter_gt3x_records(io.BytesIO(PARAMETERS_EXAMPLE))
    assert (rec.kind, rec.timestamp_s, len(rec.payload)) == (0x15, 0x54D224F2, 424)


def test_activity2_records_read_with_idle_sleep_left_as_a_gap(tmp_path: Path) -> None:
    """Three seconds of samples in g (ACCEL_SCALE 256 from PARAMETERS), timed by their records; none in the sleep."""
    path = gt3x(tmp_path / "mos.gt3x", idle_sleep_log())
    assert detect_format(path) is LoggerFormat.ACTIGRAPH_GT3X
    t, acc, clock = read_all(path)
    assert acc.shape == (3 * RATE_HZ, 3)
    # Activity2.md's table: X Y Z 48 -52 322 counts -> 0.188 -0.203 1.258 g at 256 LSB/g
    assert acc[:2].tolist() == [[0.0, 0.0, 0.0], [0.188, -0.203, 1.258]]
    raw = np.frombuffer(ACTIVITY2_EXAMPLE, dtype="<i2").reshape(-1, 3)
    assert np.array_equal(acc[:RATE_HZ], np.round(raw / 256.0, 3))
    assert clock.utc_offset_s == -6 * 3600
    utc_start = START_S + 6 * 3600  # device local time minus the -06:00 offset
    seconds = np.array([0, 1, 5])
    expected = (utc_start + seconds[:, None] + np.arange(RATE_HZ)[None, :] / RATE_HZ).ravel()
    assert np.allclose(t, expected, rtol=0, atol=1e-6)  # float sums of s and 1/30 s
    gaps = np.diff(t)
    assert gaps.max() == pytest.approx(3 + 1 / RATE_HZ)  # 1 s + 29/30 to 5 s: the idle sleep, no made-up samples


def test_chunks_of_any_size_give_the_same_samples(tmp_path: Path) -> None:
    """Records are cut into chunks of the size asked, and nothing is lost or doubled across them."""
    path = gt3x(tmp_path / "mos.gt3x", idle_sleep_log())
    t, acc, _ = read_all(path)
    for rows in (7, 30, 31, 1000):
        t2, acc2, _ = read_all(path, chunk_rows=rows)
        assert np.array_equal(t2, t)
        assert np.array_equal(acc2, acc)
    sizes = [c.t_s.size for c in read_chunks(path, chunk_rows=7)]
    assert sizes == [7] * 12 + [6]


def test_12_bit_activity_records_follow_the_documented_example(tmp_path: Path) -> None:
    """An ACTIVITY record of Activity.md's three samples on a NEO (341 LSB/g): the table's values."""
    path = gt3x(tmp_path / "neo3.gt3x", record(ACTIVITY, START_S, ACTIVITY_EXAMPLE), serial="NEO1F12345678")
    t, acc, _ = read_all(path)
    assert acc.tolist() == ACTIVITY_EXAMPLE_G
    assert t.tolist() == pytest.approx([START_S + 6 * 3600 + k / RATE_HZ for k in range(3)])


def test_info_txt_acceleration_scale_is_used_without_parameters(tmp_path: Path) -> None:
    """Without a PARAMETERS record, info.txt's Acceleration Scale gives the counts per g."""
    path = tmp_path / "x.gt3x"
    with zipfile.ZipFile(path, "w") as zf:
        info = ["Serial Number: TAS1E12345678", f"Sample Rate: {RATE_HZ}", f"Start Date: {START_TICKS}"]
        zf.writestr("info.txt", "\n".join([*info, "Acceleration Scale: 128.0"]) + "\n")
        zf.writestr("log.bin", record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE))
    _, acc, clock = read_all(path)
    assert acc[1].tolist() == [round(48 / 128, 3), round(-52 / 128, 3), round(322 / 128, 3)]
    assert clock.utc_offset_s is None  # no TimeZone: device time read as UTC


def test_a_device_initialised_in_utc_keeps_its_times(tmp_path: Path) -> None:
    """Metadata.md: a LocalTimeLog with UsedUtc true means the time stamps are UTC already."""
    log = record(METADATA, START_S - 1, json.dumps({"MetadataType": "LocalTimeLog", "UsedUtc": True}).encode())
    log += record(
        METADATA, START_S - 1, json.dumps({"MetadataType": "SubjectTimeLog", "UtcOffset": "-06:00:00"}).encode()
    )
    log += record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE)
    t, _, clock = read_all(gt3x(tmp_path / "utc.gt3x", log, timezone=None))
    assert t[0] == START_S
    assert clock.utc_offset_s == -6 * 3600  # for the calendar days


def test_no_scale_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    """A device the documentation gives no scale for, with no PARAMETERS and no Acceleration Scale, is refused."""
    path = gt3x(tmp_path / "x.gt3x", record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE), serial="TAS1E12345678")
    with pytest.raises(RecordingError, match="no accelerometer scale"):
        list(read_chunks(path))


def test_time_that_goes_back_is_an_error(tmp_path: Path) -> None:
    """A record timed at or before the one before it is refused, naming where it is."""
    log = record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE) + record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE)
    with pytest.raises(RecordingError, match=r"record at byte 189: .* not after"):
        list(read_chunks(gt3x(tmp_path / "x.gt3x", log)))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated", "cut after"),
        ("checksum", "checksum"),
        ("garbage", "where a record (0x1e) should start"),
    ],
)
def test_a_damaged_log_is_one_error_line_and_the_next_file_is_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, reason: str
) -> None:
    """A log.bin cut mid-record, with a wrong checksum or with stray bytes: `cannot read`, no traceback."""
    log = idle_sleep_log()
    if damage == "truncated":
        log = log[: len(log) - 50]
    elif damage == "checksum":
        third = log.index(record(ACTIVITY2, START_S + 5, ACTIVITY2_EXAMPLE))
        end = third + 8 + len(ACTIVITY2_EXAMPLE)
        log = log[:end] + bytes([log[end] ^ 0xFF]) + log[end + 1 :]
    else:
        log += b"\x55\x55"
    bad = gt3x(tmp_path / "bad.gt3x", log)
    good = gt3x(tmp_path / "good.gt3x", idle_sleep_log())
    with pytest.raises(RecordingError, match=re.escape("cannot read ActiGraph .gt3x file")):
        list(read_chunks(bad))
    status = main(["analyze", str(bad), str(good), "--placement", "thigh"])
    captured = capsys.readouterr()
    assert status == 1
    (error,) = captured.err.strip().splitlines()
    assert str(bad) in error
    assert "cannot read ActiGraph .gt3x file" in error
    assert reason in error
    assert "Traceback" not in captured.err
    assert f"good.gt3x: {3 * RATE_HZ} samples" in captured.out


def test_an_info_txt_that_inflates_past_64_kib_is_refused_unread(tmp_path: Path) -> None:
    """An info.txt of 1 MB (a few KB in the zip) is refused after its first 64 KiB, not read whole.

    Read whole, a 408 KB .gt3x whose info.txt inflated to 400 MB took 930 MB of memory.
    """
    path = tmp_path / "bomb.gt3x"
    info = f"Serial Number: MOS2E12345678\nSample Rate: {RATE_HZ}\nStart Date: {START_TICKS}\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("info.txt", info + "x" * 1_000_000)
        zf.writestr("log.bin", idle_sleep_log())
    assert path.stat().st_size < 10_000
    with pytest.raises(RecordingError, match=r"bomb\.gt3x: not a \.gt3x file: its info\.txt is over 65536 bytes"):
        list(read_chunks(path))


def test_metadata_nested_past_the_parsers_limit_is_ignored_and_the_next_file_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A METADATA record of ``[[[...`` is unreadable metadata, skipped: it used to end the run with a RecursionError."""
    nested = gt3x(tmp_path / "nested.gt3x", record(METADATA, START_S - 60, b"[" * 60_000) + idle_sleep_log())
    t, _, clock = read_all(nested)
    assert t.size == 3 * RATE_HZ
    assert clock.utc_offset_s == -6 * 3600  # info.txt's TimeZone, untouched
    good = gt3x(tmp_path / "good.gt3x", idle_sleep_log())
    assert main(["analyze", str(nested), str(good), "--placement", "thigh"]) == 0
    out = capsys.readouterr().out
    assert f"nested.gt3x: {3 * RATE_HZ} samples" in out
    assert f"good.gt3x: {3 * RATE_HZ} samples" in out


def test_a_long_run_of_zero_bytes_between_records_is_skipped(tmp_path: Path) -> None:
    """README.md lets zero bytes sit between records: 8 MB of them (8 KB zipped) read as if they were not there."""
    log = idle_sleep_log()
    first = log.index(record(ACTIVITY2, START_S, ACTIVITY2_EXAMPLE))
    t, acc, _ = read_all(gt3x(tmp_path / "zeros.gt3x", log[:first] + b"\0" * 8_000_000 + log[first:]))
    expected_t, expected_acc, _ = read_all(gt3x(tmp_path / "plain.gt3x", log))
    np.testing.assert_array_equal(t, expected_t)
    np.testing.assert_array_equal(acc, expected_acc)


@pytest.mark.parametrize("entry", ["info.txt", "log.bin"])
def test_an_encrypted_entry_is_a_recording_error(tmp_path: Path, entry: str) -> None:
    """zipfile asks for a password with a ``RuntimeError``: the file is named as not a .gt3x, not a crash."""
    data = bytearray(gt3x(tmp_path / "plain.gt3x", idle_sleep_log()).read_bytes())
    name = entry.encode()
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        at = data.find(signature)
        while data[at + (30 if signature == b"PK\x03\x04" else 46) :][: len(name)] != name:
            at = data.find(signature, at + 1)
        data[at + flag_at] |= 0x01  # general purpose flag bit 0: encrypted
    path = tmp_path / "locked.gt3x"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=f"its {entry} is encrypted"):
        read_all(path)
