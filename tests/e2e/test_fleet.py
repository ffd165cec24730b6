"""The load benchmark end to end: a small fleet through mosquitto, a worker and a recorder."""

from __future__ import annotations

import json

import pytest

from bench import broker_load, mqtt_client, saves
from bench.fleet import main
from ingest.mosquitto import find_mosquitto
from tests.support import missing

pytestmark = pytest.mark.e2e

WEARERS = 5
DURATION_S = 20.0
PACKETS_PER_WEARER = 40  # 20 s in 0.5-s packets
REQUIRED_KEYS = (
    "wearers",
    "workers",
    "rate_hz",
    "p99_latency_s",
    "samples_sent",
    "samples_stored",
    "lost",
    "duplicated",
)


@pytest.mark.parametrize("packet_samples", [25, 50])
def test_a_small_fleet_is_stored_once_and_reported(capsys: pytest.CaptureFixture[str], packet_samples: int) -> None:
    """Every sample of 5 wearers x 20 s (at 20x), in packets of 0.5 s or 1 s, is stored
    exactly once, and the JSON line says so."""
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    argv = ["--wearers", str(WEARERS), "--duration", str(DURATION_S), "--speed", "20", "--settle", "30"]
    status = main([*argv, "--packet-samples", str(packet_samples)])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(REQUIRED_KEYS) <= set(summary)
    assert summary["packet_samples"] == packet_samples
    assert summary["samples_sent"] == WEARERS * PACKETS_PER_WEARER * 25
    assert summary["samples_stored"] == summary["samples_sent"]
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["p99_latency_s"] is None  # device time is not wall time at 20x: not measured
    assert summary["procs"]["worker-1"]["cpu_s"] >= 0
    assert 0 <= summary["worker_mqtt_cpu_s"] <= summary["worker_cpu_s"]  # read from the worker's metrics
    assert summary["machine_us_per_packet"] > 0  # the machine's speed, measured before the run
    assert status == 0


def test_two_recorders_share_a_small_fleet_and_store_it_once(capsys: pytest.CaptureFixture[str]) -> None:
    """``bench.fleet --recorders 2``: the recorders share the packets (``--share-group``), and
    every sample is stored once all the same."""
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    argv = ["--wearers", str(WEARERS), "--duration", str(DURATION_S), "--speed", "20", "--settle", "30"]
    assert main([*argv, "--recorders", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["recorders"] == 2
    assert summary["samples_stored"] == summary["samples_sent"] == WEARERS * PACKETS_PER_WEARER * 25
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert min(summary["procs"][f"recorder-{k}"]["cpu_s"] for k in (1, 2)) > 0


@pytest.mark.parametrize("secure", [False, True])
def test_the_broker_benchmark_gets_every_delivery_in_each_mode(
    capsys: pytest.CaptureFixture[str], secure: bool
) -> None:
    """``python -m bench.broker_load`` on a few packets, each way of subscribing, open and with
    logins and ACLs: every delivery due arrives, and its figures are printed."""
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    argv = ["--devices", "300", "--subscribers", "3", "--recorders", "2", "--rate", "500", "--duration", "1"]
    assert broker_load.main([*argv, "--mode", *broker_load.MODES, *(["--secure"] if secure else [])]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["mode"] for r in runs] == list(broker_load.MODES)
    for r in runs:
        assert r["sent"] == 500
        assert r["delivered"] == r["expected"] == 500 * ((3 if r["mode"] == "all" else 1) + 1)
        assert r["subscriptions"] == (300 if r["mode"] == "held" else 3) + 2
        assert r["broker_cpu_s"] >= 0
        assert r["secure"] is secure


def test_the_mqtt_client_benchmark_receives_every_message(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.mqtt_client`` on a few messages: it waits for every one and prints its figure."""
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    assert mqtt_client.main(["--messages", "300", "--repeat", "1"]) == 0
    assert "us CPU per message" in capsys.readouterr().out


def test_the_save_benchmark_prints_both_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.saves`` on a few wearers of a SQLite store prints its figures."""
    assert saves.main(["--wearers", "20", "--repeat", "1", "--minutes", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "live statuses: built" in out
    assert "snapshots: built" in out
    assert "saved with counts" in out
