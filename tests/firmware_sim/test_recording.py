from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.settings import Placement
from firmware_sim.motion import generate, iter_chunks
from firmware_sim.recording import write_csv, write_truth_json
from firmware_sim.scenarios import ALL_POSTURES, truth


def test_csv_round_trips_to_a_tenth_of_a_mg(tmp_path: Path) -> None:
    """The CSV has the t,ax,ay,az columns of DESIGN.md and keeps 4 decimals."""
    rec = generate(ALL_POSTURES.truncated(120.0), Placement.WAIST, 1)
    path = tmp_path / "rec.csv"
    assert write_csv(rec, path) == rec.t_s.shape[0]
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["t", "ax", "ay", "az"]
    assert frame["t"].iloc[0] == 0.0
    np.testing.assert_allclose(frame["t"].to_numpy(), rec.t_s, atol=5e-5)
    np.testing.assert_allclose(frame[["ax", "ay", "az"]].to_numpy(), rec.acc_g, atol=5e-5)


def test_streamed_csv_equals_recording_csv(tmp_path: Path) -> None:
    """Writing chunk by chunk (bounded memory) gives the same file as writing a recording."""
    script = ALL_POSTURES.truncated(300.0)
    whole, streamed = tmp_path / "whole.csv", tmp_path / "streamed.csv"
    write_csv(generate(script, Placement.THIGH, 2), whole)
    write_csv(iter_chunks(script, Placement.THIGH, 2, chunk_s=10.0), streamed)
    assert whole.read_text() == streamed.read_text()


def test_truth_json_labels_postures(tmp_path: Path) -> None:
    """The truth sidecar lists posture labels like the sidecars of the real recordings."""
    path = tmp_path / "rec.truth.json"
    write_truth_json(truth(ALL_POSTURES), path)
    labels = json.loads(path.read_text())["labels"]
    assert labels[0] == {"start_s": 0.0, "end_s": 180.0, "label": "standing", "activity": "standing"}
    assert {label["label"] for label in labels} == {"sitting", "standing", "walking", "lying", "other", "nonwear"}
