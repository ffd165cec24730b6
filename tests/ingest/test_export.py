"""``sitless export`` and ``sitless delete``: one wearer's data out of sitless, or gone from it."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis import Placement
from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import scenario
from ingest.broker import BrokerProcess
from ingest.cli import main
from ingest.codec import Batch, decode, encode
from ingest.errors import StoreError
from ingest.export import FILES, write_export
from ingest.mqtt import PASSWORD_FILE_ENV
from ingest.payloads import WearerSettings
from ingest.store import BatchRow, Store
from tests.dashboard.office_morning import DEVICE
from tests.dashboard.test_settings_page import retained, retained_status_and_settings
from tests.ingest.test_store import stored_days_ago
from tests.ingest.test_store_outage import Lock
from tests.support import tally

pytestmark = pytest.mark.both_stores

T0_S = 1_765_000_000.0  # 2025-12-06 05:46:40 UTC
OTHER = "desk-08"
ALERT = {"alert": "sit_too_long", "sitting_since_s": T0_S + 120.0, "sitting_s": 1800.0}


def packets(minutes: float, device_id: str = DEVICE) -> list[bytes]:
    """The encoded packets of a simulated thigh wearer: 2 min walking, then sitting."""
    settings = DeviceSettings(device_id=device_id, params=MotionParams(drop_prob=0.0))
    per_minute = 60 * 50 // settings.params.packet_samples
    sent = itertools.islice(iter_packets(scenario("quick"), settings, T0_S), round(minutes * per_minute))
    return [p.payload for p in sent if p.payload is not None]


def fill(url: str, payloads: list[bytes], device_id: str = DEVICE) -> None:
    """Store packets as the recorder does, with an alert, the wearer's settings, statuses and counts."""
    rows = [BatchRow.of_packet(device_id, decode(payload), payload) for payload in payloads]
    with Store(url) as store:
        store.add_batches(rows)
        store.add_events(device_id, [{"kind": "alert", "t_s": T0_S + 1920.0, **ALERT}])
        store.set_device_status(device_id, {"online": True, "battery_pct": 81, "placement": "thigh"})
        store.set_wearer_settings(device_id, WearerSettings(max_sitting_min=45).to_dict())
        store.save_state(device_id, rows[-1].seq, snapshot={}, status={"t_s": T0_S + 600.0, "posture": "sitting"})
        store.add_counts(tally("recorder", {(device_id, "packets"): len(rows)}))


def unzip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_an_export_holds_every_sample_event_and_setting_of_the_one_wearable(store_url: str, tmp_path: Path) -> None:
    """samples.csv holds each stored packet's samples, in order, to the resolution it is
    written at (1 ms, 1e-5 g); events, settings, status and counts are the device's own,
    and another wearable's data stays out."""
    sent = packets(6.0)
    fill(store_url, sent)
    fill(store_url, packets(1.0, OTHER), OTHER)
    out = tmp_path / "export.zip"
    assert main(["export", "--store", store_url, "--device", DEVICE, "--out", str(out)]) == 0

    files = unzip(out)
    assert sorted(files) == ["events.jsonl", "samples.csv", "wearer.json"]  # no gyro: no gyro.csv
    assert files["samples.csv"].startswith(b"t,ax,ay,az\n")
    batches = [decode(p) for p in sent]
    expected_t = np.concatenate([b.times_s() for b in batches])
    expected_acc = np.concatenate([b.acc_g() for b in batches])
    table = np.loadtxt(io.BytesIO(files["samples.csv"]), delimiter=",", skiprows=1)
    assert table.shape == (expected_t.size, 4)
    np.testing.assert_allclose(table[:, 0], expected_t, rtol=0, atol=0.0005 + 1e-6)
    np.testing.assert_allclose(table[:, 1:], expected_acc, rtol=0, atol=0.000005 + 1e-9)

    events = [json.loads(line) for line in files["events.jsonl"].decode().splitlines()]
    assert events == [{"kind": "alert", "t_s": T0_S + 1920.0, **ALERT}]
    wearer = json.loads(files["wearer.json"])
    assert wearer["device_id"] == DEVICE
    assert wearer["settings"]["max_sitting_min"] == 45
    assert wearer["device_status"]["battery_pct"] == 81
    assert wearer["live_status"]["posture"] == "sitting"
    assert wearer["counts"] == {"recorder.packets": len(sent)}
    coverage = wearer["coverage"]
    assert (coverage["packets"], coverage["samples"], coverage["missing"]) == (len(sent), expected_t.size, [])
    assert coverage["earliest_t_s"] == T0_S
    assert coverage["latest_t_s"] == pytest.approx(expected_t[-1])
    assert set(wearer["files"]) == {"samples.csv", "events.jsonl", "wearer.json"} <= set(FILES)


def test_an_exported_recording_is_analysed_again_by_sitless_analyze(store_url: str, tmp_path: Path) -> None:
    """samples.csv is a recording `sitless analyze` reads: the wearer's 2 min of walking
    and the sitting after it are found in it."""
    fill(store_url, packets(8.0))
    out = tmp_path / "export.zip"
    assert main(["export", "--store", store_url, "--out", str(out)]) == 0  # the store's only wearable
    csv = tmp_path / "samples.csv"
    csv.write_bytes(unzip(out)["samples.csv"])
    result = tmp_path / "result.json"
    assert main(["analyze", str(csv), "--placement", str(Placement.THIGH), "--json", str(result)]) == 0
    summary = json.loads(result.read_text())["summary"]
    assert summary["sitting_s"] > 4 * 60
    assert summary["walking_s"] > 60


@pytest.mark.parametrize("held", ["in memory", "on disk"])
def test_angular_rate_goes_to_gyro_csv_and_missing_packets_are_named(
    store_url: str, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    """The packets are read once: the angular rates wait for the samples in a temporary
    file, in memory up to a size and on disk past it."""
    if held == "on disk":
        monkeypatch.setattr("ingest.export._GYRO_IN_MEMORY_BYTES", 100)
    reads = 0
    batches = Store.batches

    def counted(self: Store, device_id: str, **kwargs: Any) -> Iterator[BatchRow]:
        nonlocal reads
        reads += 1
        yield from batches(self, device_id, **kwargs)

    monkeypatch.setattr(Store, "batches", counted)
    rng = np.random.default_rng(3)
    payloads = []
    for seq in (0, 1, 2, 5):  # packets 3 and 4 never reached the store
        acc = rng.integers(-4096, 4096, (25, 3)).astype(np.int16)
        gyro = rng.integers(-3000, 3000, (25, 3)).astype(np.int16) if seq != 1 else None
        payloads.append(
            encode(
                Batch(
                    seq, T0_S + seq * 0.5, 50.0, 1 / 4096, acc, gyro_scale_dps=0.0 if gyro is None else 0.061, gyro=gyro
                )
            )
        )
    fill(store_url, payloads)
    with Store(store_url, read_only=True) as store:
        summary = write_export(store, DEVICE, (buffer := io.BytesIO()))
    assert (summary.samples, summary.gyro_samples, summary.missing) == (100, 75, [[3, 4]])
    assert reads == 1
    with zipfile.ZipFile(buffer) as archive:
        gyro_csv = archive.read("gyro.csv")
    table = np.loadtxt(io.BytesIO(gyro_csv), delimiter=",", skiprows=1)
    expected = np.concatenate([g for p in payloads if (g := decode(p).gyro_dps()) is not None])
    np.testing.assert_allclose(table[:, 1:], expected, rtol=0, atol=0.0005 + 1e-9)
    assert gyro_csv.startswith(b"t,gx,gy,gz\n")


def test_an_export_never_replaces_a_file_unasked_and_leaves_none_when_it_fails(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store_url, packets(1.0))
    out = tmp_path / "export.zip"
    out.write_bytes(b"mine")
    assert main(["export", "--store", store_url, "--out", str(out)]) == 1
    assert "exists; add --force" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    assert main(["export", "--store", store_url, "--out", str(out), "--force"]) == 0
    assert "samples.csv" in unzip(out)
    folder = tmp_path / "downloads"
    folder.mkdir()
    assert main(["export", "--store", store_url, "--out", str(folder)]) == 0  # a folder: the default name in it
    assert main(["export", "--store", store_url, "--out", "/dev/null", "--force"]) == 0
    assert "samples.csv" in unzip(folder / f"sitless-{DEVICE}.zip")

    assert main(["export", "--store", store_url, "--device", "desk-99", "--out", str(tmp_path / "x.zip")]) == 1
    assert f"no device 'desk-99' in the store (the store has: {DEVICE})" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


def test_a_failed_export_leaves_the_file_it_was_to_replace_and_what_a_link_names(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export is written beside its file and renamed over it once complete: one that
    fails leaves the old file whole and no part. A link (or a pipe, /dev/stdout) is
    written through in place, and is never deleted when the export fails."""
    fill(store_url, packets(1.0))

    def failing(store: Store, device_id: str, out: io.BufferedWriter) -> None:
        out.write(b"PK half an archive")
        raise StoreError("the store went away (test)")

    monkeypatch.setattr("ingest.data_cmd.write_export", failing)
    old = tmp_path / "export.zip"
    old.write_bytes(b"the last export")
    assert main(["export", "--store", store_url, "--out", str(old), "--force"]) == 1
    assert "the store went away" in capsys.readouterr().err
    assert old.read_bytes() == b"the last export"
    assert sorted(p.name for p in tmp_path.iterdir() if "export" in p.name) == ["export.zip"]

    target = tmp_path / "target.bin"
    target.write_bytes(b"")
    link = tmp_path / "link.zip"
    link.symlink_to(target)
    assert main(["export", "--store", store_url, "--out", str(link), "--force"]) == 1
    assert link.is_symlink()
    assert target.read_bytes() == b"PK half an archive"


def test_an_export_to_a_folder_that_cannot_take_it_says_so_and_leaves_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store_url, packets(1.0))
    out = tmp_path / "no such folder" / "export.zip"
    assert main(["export", "--store", store_url, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out}: no such folder {out.parent}" in err
    assert ".partial" not in err  # the output is named, not the temporary file beside it


def test_delete_without_yes_and_without_a_terminal_asks_for_it_and_deletes_nothing(store_url: str) -> None:
    fill(store_url, packets(1.0))
    run = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "delete", "--store", store_url, "--device", DEVICE, "--no-broker"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "add --yes" in run.stderr
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is not None


def test_delete_with_no_broker_empties_the_store_of_the_one_wearable(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store_url, packets(1.0))
    fill(store_url, packets(1.0, OTHER), OTHER)
    assert main(["delete", "--store", store_url, "--device", DEVICE, "--no-broker", "--yes"]) == 0
    assert "deleted" in capsys.readouterr().out
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is None
        assert store.events(DEVICE) == []
        assert store.wearer_settings(DEVICE) is None
        assert sorted(store.devices()) == [OTHER]
        assert store.max_seq(OTHER) is not None


def test_delete_with_the_broker_down_deletes_nothing(
    store_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fill(store_url, packets(1.0))
    assert main(["delete", "--store", store_url, "--device", DEVICE, "--broker", "mqtt://127.0.0.1:9", "--yes"]) == 1
    assert "nothing deleted (add --no-broker" in capsys.readouterr().err
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is not None


def test_delete_makes_the_broker_forget_the_wearables_retained_messages(
    store_url: str, secure_broker: BrokerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the dashboard's login on the secure embedded broker, as an administrator runs
    it: a fresh subscriber then gets no retained status or settings of the wearable."""
    assert secure_broker.logins is not None
    fill(store_url, packets(1.0))
    device = retained_status_and_settings(secure_broker)
    dashboard = secure_broker.login("dashboard")
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secure_broker.logins.secret("dashboard")))
    assert main(["delete", "--store", store_url, "--device", DEVICE, "--broker", dashboard.url, "--yes"]) == 0
    assert retained(secure_broker, device) == []
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is None
    device.disconnect()
    device.loop_stop()


def test_a_delete_the_store_refuses_after_the_broker_forgot_says_what_is_done_and_what_is_left(
    tmp_path: Path, secure_broker: BrokerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The broker's retained messages go first; a store locked then keeps its rows, and the
    message says both, and that the same command with ``--no-broker`` finishes the job."""
    assert secure_broker.logins is not None
    monkeypatch.setattr("ingest.store.base.BUSY_TIMEOUT_MS", 100)
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    fill(store_url, packets(1.0))
    device = retained_status_and_settings(secure_broker)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secure_broker.logins.secret("dashboard")))
    command = ["delete", "--store", store_url, "--device", DEVICE, "--yes"]
    lock = Lock(store_url)
    try:
        assert main([*command, "--broker", secure_broker.login("dashboard").url]) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert f"the broker's retained status and settings of {DEVICE} are deleted, nothing of the store" in err
    assert "--no-broker" in err
    assert retained(secure_broker, device) == []
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is not None
    assert main([*command, "--no-broker"]) == 0
    with Store(store_url, read_only=True) as store:
        assert store.max_seq(DEVICE) is None
    device.disconnect()
    device.loop_stop()


def test_prune_deletes_the_old_analysed_packets_and_keeps_the_rest(
    store_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The command keeps the days asked for; a wearable's events, settings and state stay."""
    sent = packets(2.0)
    fill(store_url, sent)  # its state includes every packet
    stored_days_ago(store_url, DEVICE, range(0, 100), 8.0)
    assert main(["prune", "--store", store_url, "--keep-days", "7"]) == 0
    assert "deleted 100 raw packets stored more than 7 days ago" in capsys.readouterr().out
    with Store(store_url, read_only=True) as store:
        assert store.seqs(DEVICE) == list(range(100, len(sent)))
        assert len(store.events(DEVICE)) == 1
        assert store.wearer_settings(DEVICE) is not None
    assert main(["prune", "--store", store_url, "--keep-days", "-1"]) == 1
    assert "--keep-days must be 0 or more" in capsys.readouterr().err
    nowhere = f"sqlite:///{tmp_path / 'none.sqlite'}"
    assert main(["prune", "--store", nowhere, "--keep-days", "7"]) == 1
    assert "nothing to prune" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()
