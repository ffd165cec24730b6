from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from firmware_sim.cli import register
from firmware_sim.scenarios import ALL_POSTURES

ALL_S = ALL_POSTURES.duration_s


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sitless")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", *argv])
    return int(args.func(args))


def test_csv_writes_samples_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--csv writes the scenario's samples for `sitless analyze`, and the truth beside them."""
    out = tmp_path / "all.csv"
    assert _run("--scenario", "all_postures", "--placement", "lower_back", "--csv", str(out), "--drop-prob", "0") == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["t", "ax", "ay", "az"]
    assert frame.shape[0] == pytest.approx(ALL_S * 50, rel=0.001)  # 50 Hz give or take the clock error
    labels = json.loads((tmp_path / "all.truth.json").read_text())["labels"]
    assert labels[-1]["end_s"] == ALL_S
    assert "samples" in capsys.readouterr().out


def test_jitter_and_seed_vary_the_script(tmp_path: Path) -> None:
    """--jitter with a seed changes step durations reproducibly."""
    paths = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("1", "1", "2"), strict=True):
        assert _run("--scenario", "all_postures", "--jitter", "0.1", "--seed", seed, "--csv", str(path)) == 0
    truths = [json.loads(p.with_suffix(".truth.json").read_text())["labels"] for p in paths]
    assert truths[0] == truths[1] != truths[2]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--start", "yesterday"), ("--device", "bad/id"), ("--speed", "0"), ("--jitter", "2"), ("--broker", "http://x")],
)
def test_bad_options_exit_2(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad option value is a one-line error and exit status 2, before any connection."""
    assert _run(option, value) == 2
    assert capsys.readouterr().err.startswith("sitless sim: ")


def test_the_programme_session_is_a_scenario_whose_truth_names_the_exercises(tmp_path: Path) -> None:
    """``--scenario programme_session`` plays the guided session; its truth names each exercise."""
    out = tmp_path / "session.csv"
    assert _run("--scenario", "programme_session", "--placement", "thigh", "--csv", str(out), "--drop-prob", "0") == 0
    labels = json.loads((tmp_path / "session.truth.json").read_text())["labels"]
    named = [label["exercise"] for label in labels if "exercise" in label]
    programme = ["knee_roll", "knee_hug", "back_stabiliser", "pelvic_tilt", "deep_stomach", "plank", "squat", "crunch"]
    assert named == ["walk", *programme]
    assert all(label["activity"] == "exercise" for label in labels if "exercise" in label)
