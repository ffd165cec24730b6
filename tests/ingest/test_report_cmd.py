"""``sitless report``: a guided set analysed by the worker shows up as exercise done and plan kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import UserAction
from ingest.cli import main
from ingest.store import Store
from ingest.topics import Kind
from ingest.worker import Worker, WorkerSettings
from tests.ingest.guided import DEVICE, T0_S, action, message, set_packets, warm_up


@pytest.fixture
def store_with_a_set(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    warm = warm_up()
    imu = [message(Kind.IMU, p, i) for i, p in enumerate(warm + set_packets(len(warm)))]
    worker = Worker(WorkerSettings(store_url=url, reorder_wait_s=3600.0))
    worker.handle(imu[: len(warm)])
    worker.handle([action(UserAction.EXERCISE_START, 90001, "squat")])
    worker.handle(imu[len(warm) :])
    worker.handle([action(UserAction.EXERCISE_END, 90002)])
    worker.close()
    return url


def test_the_report_counts_the_set_against_the_plan(store_with_a_set: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Ten squats on the plan's first day (a strengthening day) make the squat done that day."""
    args = ["report", "--store", store_with_a_set, "--end", "2023-11-14", "--weeks", "1", "--tz", "UTC"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    squats = {"exercise": "squat", "day": "2023-11-14", "reps": 10, "held_s": None, "duration_s": None}
    assert report["done"] == [squats]
    (day,) = report["adherence"]["days"]
    assert {i["exercise"]: i["done"] for i in day["items"]}["squat"] is True
    assert report["days"][0]["date"] == "2023-11-14"
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2023-11-14 squat: 10 reps" in text


def test_a_bout_found_unprompted_ticks_its_exercise_off(
    store_with_a_set: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A knee-roll bout the recogniser found counts as the knee roll done that day; a malformed row is skipped."""
    with Store(store_with_a_set) as store:
        found = {"kind": "exercise_found", "start_s": T0_S + 200.0, "end_s": T0_S + 260.0, "exercise": "knee_roll"}
        store.add_events(DEVICE, [{**found, "confidence": 0.9}, {"kind": "exercise_found", "t_s": T0_S + 300.0}])
    args = ["report", "--store", store_with_a_set, "--end", "2023-11-14", "--weeks", "1", "--tz", "UTC", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    rolls = [d for d in report["done"] if d["exercise"] == "knee_roll"]
    assert rolls == [{"exercise": "knee_roll", "day": "2023-11-14", "reps": None, "held_s": None, "duration_s": None}]
    (day,) = report["adherence"]["days"]
    assert {i["exercise"]: i["done"] for i in day["items"]}["knee_roll"] is True


def test_a_store_with_several_devices_needs_one_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    Worker(WorkerSettings(store_url=url)).close()
    assert main(["report", "--store", url]) == 1
    assert "name the device with --device" in capsys.readouterr().err


def test_a_night_found_live_is_in_bed_time_in_the_report(
    store_with_a_set: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stored ``in_bed`` event makes that lying in-bed time, not waking lying; a malformed one is skipped."""
    night = {"start_s": T0_S - 3 * 3600.0, "end_s": T0_S - 3600.0}
    with Store(store_with_a_set) as store:
        store.add_events(
            DEVICE,
            [
                {"kind": "posture_bout", "posture": "lying", "slouch_s": 0.0, **night},
                {"kind": "in_bed", **night},
                {"kind": "in_bed", "t_s": T0_S},
            ],
        )
    args = ["report", "--store", store_with_a_set, "--end", "2023-11-14", "--weeks", "1", "--tz", "UTC", "--json"]
    assert main(args) == 0
    (day,) = json.loads(capsys.readouterr().out)["days"]
    assert day["in_bed_s"] == pytest.approx(7200.0)
    assert day["lying_s"] == 0.0


@pytest.mark.parametrize(
    "odd",
    [
        {"kind": "posture_bout", "start_s": T0_S + 100.0, "end_s": 1e15, "posture": "sitting"},
        {"kind": "sitting_bout", "start_s": T0_S + 100.0, "end_s": "later"},
        {"kind": "break", "start_s": float("nan"), "end_s": T0_S + 120.0},
        {"kind": "alert", "t_s": 1.7e12},
        {"kind": "exercise", "start_s": T0_S, "end_s": T0_S + 9.0, "exercise": "squat", "reps": "ten"},
    ],
)
def test_a_stored_row_no_calendar_can_place_is_skipped_not_the_report(
    store_with_a_set: str, capsys: pytest.CaptureFixture[str], odd: dict[str, object]
) -> None:
    """A row with a time outside 0..2**32 s (a clock in milliseconds, in a store written
    before intake refused one) or not a number is left out; the rest is reported."""
    with Store(store_with_a_set) as store:
        store.add_events(DEVICE, [{**odd, "t_s": odd.get("t_s", T0_S + 100.0)}])
    args = ["report", "--store", store_with_a_set, "--end", "2023-11-14", "--weeks", "1", "--tz", "UTC", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["exercise"] for d in report["done"]] == ["squat"]


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    Store(url).close()
    return url


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--end", "0001-01-01"], "--end 0001-01-01 is outside the days sitless stores"),
        (["--end", "9999-12-31"], "--end 9999-12-31 is outside the days sitless stores"),
        (["--end", "1970-01-03"], "--end 1970-01-03 is outside the days sitless stores"),
        (["--weeks", "100000000", "--end", "2026-01-01"], "give --weeks 2922 or fewer"),
        (["--weeks", "0"], "--weeks must be 1 or more"),
        (["--weeks", "-3"], "--weeks must be 1 or more"),
    ],
)
def test_days_no_store_can_hold_are_one_line(
    empty_store: str, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    """A report before 1970 or past the times sitless stores is refused saying which days it takes."""
    assert main(["report", "--store", empty_store, "--device", "d1", *args]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err == f"sitless report: {err.removeprefix('sitless report: ').strip()}\n"
    assert says in err


def test_a_device_the_store_does_not_know_is_refused_naming_those_it_does(
    store_with_a_set: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped device gets no report of zeros: the line names the store's devices."""
    assert main(["report", "--store", store_with_a_set, "--device", "nope"]) == 1
    assert capsys.readouterr().err == f"sitless report: no device 'nope' in the store (the store has: {DEVICE})\n"
    assert main(["report", "--store", store_with_a_set, "--device", "a/b"]) == 1
    assert "invalid device id 'a/b'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"<html></html>", "is not JSON: Expecting value: line 1 column 1"),
        (b"[" * 100_000 + b"]" * 100_000, "is JSON nested too deeply"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b'{"start": "2023-11-14"}', "is not a valid plan"),
    ],
    ids=["html", "nested", "utf-16", "no-plan"],
)
def test_a_plan_file_that_is_no_plan_is_named(
    store_with_a_set: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    """A plan that is not JSON (nested past the parser's recursion limit too) is one line naming it, no traceback."""
    plan = tmp_path / "plan.json"
    plan.write_bytes(content)
    assert main(["report", "--store", store_with_a_set, "--device", DEVICE, "--plan", str(plan)]) == 1
    err = capsys.readouterr().err
    assert says in err
    assert f"the plan {plan} " in err
    assert err.count("\n") == 1


def test_a_store_that_is_not_there_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not SQLite's "unable to open database file", and no empty store made."""
    path = tmp_path / "no such.sqlite"
    assert main(["report", "--store", f"sqlite:///{path}"]) == 1
    assert f"no store at sqlite:///{path}" in capsys.readouterr().err
    assert not path.exists()
