"""A missing labelled recording fails where the recordings are required, and skips elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.conftest import load_recording


def _write_recording(root: Path, name: str, recording: str) -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{recording}.csv").write_text("t,ax,ay,az\n0.0,0.0,0.0,1.0\n0.02,0.0,0.0,1.0\n")
    (folder / f"{recording}.json").write_text('{"placement": "waist", "labels": []}')


@pytest.mark.parametrize(
    ("present", "what"),
    [
        ((), "the dataset 'uci_hapt'"),
        ((("uci_hapt", "exp01_user01"),), "the recording uci_hapt/exp99_user99"),
    ],
    ids=["dataset", "recording"],
)
def test_missing_data_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: tuple[tuple[str, str], ...], what: str
) -> None:
    """With SITLESS_REQUIRE_DATA=1 a missing dataset or recording fails the test, naming it."""
    for name, recording in present:
        _write_recording(tmp_path, name, recording)
    monkeypatch.setenv("SITLESS_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="SITLESS_REQUIRE_DATA=1") as failed:
        load_recording(tmp_path, "uci_hapt", "exp99_user99")
    assert what in str(failed.value)


@pytest.mark.parametrize("require", [None, "0"], ids=["unset", "0"])
def test_missing_recording_skips_when_not_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, require: str | None
) -> None:
    """Without SITLESS_REQUIRE_DATA=1 a missing recording skips the test and says which one."""
    _write_recording(tmp_path, "uci_hapt", "exp01_user01")
    if require is None:
        monkeypatch.delenv("SITLESS_REQUIRE_DATA", raising=False)
    else:
        monkeypatch.setenv("SITLESS_REQUIRE_DATA", require)
    with pytest.raises(pytest.skip.Exception, match="the recording uci_hapt/exp99_user99") as skipped:
        load_recording(tmp_path, "uci_hapt", "exp99_user99")
    assert "SITLESS_DATA" in str(skipped.value)


def test_a_present_recording_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recording that is there loads as times, (n, 3) acceleration and its sidecar."""
    _write_recording(tmp_path, "uci_hapt", "exp01_user01")
    monkeypatch.setenv("SITLESS_REQUIRE_DATA", "1")
    t, acc, meta = load_recording(tmp_path, "uci_hapt", "exp01_user01")
    assert t.tolist() == [0.0, 0.02]
    assert acc.shape == (2, 3)
    assert meta["placement"] == "waist"
