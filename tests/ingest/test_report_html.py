"""``sitless report --html``: a self-contained page whose figures are the report's."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.programme import DISCLAIMER, SEE_A_DOCTOR_IF
from analysis.report import Report, bout_profile, exercise_totals, summarize
from bench.office_weeks import DEVICE, END, write
from ingest.cli import main
from ingest.progress import load_report
from ingest.report_html import METHOD_NOTES, NO_DATA, render_html

WEEKS = 4
ARGS = ["--end", END.isoformat(), "--weeks", str(WEEKS), "--tz", "UTC"]
CHARTS = ("chart-activity", "chart-bouts", "chart-answers", "chart-plan")


class _Page(HTMLParser):
    """Text by element id, ids of figures, every src/href, and all the text."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.links: list[str] = []
        self.figures: list[str] = []
        self.text: list[str] = []
        self.tags: set[str] = set()
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        self.links += [v for k, v in attrs if k in {"src", "href", "xlink:href", "srcset", "action"} and v]
        if tag == "figure" and a.get("id"):
            self.figures.append(str(a["id"]))
        if tag not in {"meta", "br", "img", "rect", "path", "circle", "line"}:
            self._open.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, element_id in self._open:
            if element_id:
                self.by_id[element_id] = self.by_id.get(element_id, "") + data


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


@pytest.fixture
def weeks_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    write(url, END, WEEKS)
    return url


def report_of(url: str) -> Report:
    return load_report(url, DEVICE, end=END, weeks=WEEKS, tz=dt.UTC)


def test_the_page_shows_the_reports_figures(weeks_store: str, tmp_path: Path) -> None:
    """The summary, weekly bout profile and exercise totals in the page are the Report's."""
    out = tmp_path / "report.html"
    assert main(["report", "--store", weeks_store, *ARGS, "--html", str(out)]) == 0
    page = parse(out.read_text(encoding="utf-8"))
    report = report_of(weeks_store)
    s = summarize(report)
    assert s.days_with_data > 10
    assert s.sitting_per_day_s is not None
    assert s.breaks_per_sitting_hour is not None
    assert s.plan_kept is not None
    assert page.by_id["days-with-data"] == str(s.days_with_data)
    assert page.by_id["sitting-per-day"] == f"{s.sitting_per_day_s / 3600:.1f} h"
    assert page.by_id["longest-bout"] == f"{s.longest_sitting_s / 60:.0f} min"
    assert page.by_id["breaks-per-hour"] == f"{s.breaks_per_sitting_hour:.1f}"
    assert page.by_id["reminders-answered"] == f"{s.reminders_answered} of {s.reminders}"
    assert page.by_id["plan-kept"] == f"{s.plan_kept:.0%}"
    assert 0 < s.reminders_answered < s.reminders  # the generator answers some and ignores some
    # Each week's row carries its bout profile, which adds up to the days' bouts.
    weeks = page.by_id["table-weeks"]
    for w in report.weeks:
        short, medium, long_ = bout_profile(
            d for d in report.days if w.start.isoformat() <= (d.date or "") <= str(w.end)
        )
        assert f"{short}{medium}{long_}{w.breaks}" in weeks.replace("\n", "")
    assert sum(sum(d.sitting_bouts) for d in report.days) == sum(sum(bout_profile([d])) for d in report.days)
    # The reminder table's counts are the report's.
    reminders = page.by_id["table-reminders"]
    for label, count in zip(
        ("Done", "saw no break", "Snoozed", "In a meeting", "Dismissed", "Break taken", "Ignored"),
        report.answer_counts().values(),
        strict=True,
    ):
        assert label in reminders
        assert f"{count}{count / len(report.answers):.0%}" in reminders.replace(" ", "").replace("\n", "")
    squat = next(t for t in exercise_totals(report) if t.exercise_id == "squat")
    assert squat.reps > 0
    assert str(squat.reps) in page.by_id["table-exercises"]


def test_the_page_is_self_contained_and_complete(weeks_store: str) -> None:
    """No external resource, no script; every chart, the method notes and the disclaimer are there."""
    page_text = render_html(report_of(weeks_store), DEVICE)
    page = parse(page_text)
    assert not [link for link in page.links if not link.startswith("#")]
    assert "script" not in page.tags
    assert "@import" not in page_text
    assert "url(http" not in page_text
    assert "//" not in "".join(page.links)
    assert list(page.figures) == list(CHARTS)
    text = " ".join(" ".join(page.text).split())
    for head, note in METHOD_NOTES:
        assert head in text
        assert " ".join(note.split()) in text
    assert DISCLAIMER in text
    for sign in SEE_A_DOCTOR_IF:
        assert sign in text
    assert "@media print" in page_text
    assert "size: A4" in page_text
    assert page_text == render_html(report_of(weeks_store), DEVICE)  # the same bytes for a download


def test_an_empty_period_says_so(weeks_store: str, tmp_path: Path) -> None:
    """A period before any data: 'no data in this period', and no charts of nothing."""
    out = tmp_path / "empty.html"
    args = ["report", "--store", weeks_store, "--end", "2025-01-31", "--weeks", "2", "--tz", "UTC"]
    assert main([*args, "--device", DEVICE, "--html", str(out)]) == 0
    page = parse(out.read_text(encoding="utf-8"))
    assert NO_DATA in page.by_id["summary"]
    assert NO_DATA in page.by_id["activity"]
    assert "No reminders in this period." in page.by_id["reminders"]
    assert NO_DATA in page.by_id["plan"]
    assert page.figures == []


def test_an_empty_store_gives_an_empty_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    write(url, END, weeks=0)
    out = tmp_path / "r.html"
    assert main(["report", "--store", url, *ARGS, "--html", str(out)]) == 0
    assert NO_DATA in parse(out.read_text(encoding="utf-8")).by_id["summary"]


def test_an_existing_file_is_kept_unless_forced(
    weeks_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's file is not overwritten without --force; the error is one line."""
    out = tmp_path / "mine.html"
    out.write_text("my notes", encoding="utf-8")
    assert main(["report", "--store", weeks_store, *ARGS, "--html", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "exists; add --force" in err
    assert out.read_text(encoding="utf-8") == "my notes"
    assert main(["report", "--store", weeks_store, *ARGS, "--html", str(out), "--force"]) == 0
    assert "<!DOCTYPE html>" in out.read_text(encoding="utf-8")


def test_a_file_that_appears_while_the_report_is_made_is_kept(
    weeks_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check before the report is made and the writing are apart: a file made in
    between (by another run, or the user) is kept, and no part of the report is left."""
    out = tmp_path / "r.html"

    def rendered_while_a_file_appears(report: Report, device: str) -> str:
        out.write_text("written meanwhile", encoding="utf-8")
        return render_html(report, device)

    monkeypatch.setattr("ingest.report_cmd.render_html", rendered_while_a_file_appears)
    assert main(["report", "--store", weeks_store, *ARGS, "--html", str(out)]) == 1
    assert "exists; add --force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "written meanwhile"
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
