"""The repository itself: what ``python -m pytest`` runs, and paths that work on any machine."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("analysis", "ingest", "dashboard", "firmware_sim")
# Folders that are not the project's text: environments, caches, generated output.
NOT_OURS = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "var", "out", "build"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".sh", ".yml", ".yaml", ".json", ""}
# Home folders and checkouts of one machine; a path the project cites is relative to the
# repository (``../shared/data``, ``.venv/bin/sitless``). Spelt in pieces so that this
# file does not match itself.
MACHINE_PATH = re.compile("(?<![\\w.])/" + "(?:work|home|Users|root|mnt)/")


def _project_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        parts = set(path.relative_to(REPO).parts)
        if parts & NOT_OURS or any(p.endswith(".egg-info") or p == "__pycache__" for p in parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile"):
            files.append(path)
    return files


def test_no_file_cites_a_path_on_one_machine() -> None:
    """Code, docs and configuration cite paths relative to the repository, never a checkout's absolute path."""
    found = []
    for path in _project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert found == []


def test_pytest_runs_the_doctests_of_every_package() -> None:
    """`python -m pytest` (pyproject testpaths, --doctest-modules) covers all four packages."""
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert set(PACKAGES) <= set(options["testpaths"])
    assert "--doctest-modules" in options["addopts"].split()


def test_collecting_the_doctests_imports_every_module_without_side_effects() -> None:
    """Collection imports each module (not the Streamlit pages) without error, and finds doctests in each package."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *PACKAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    for package in PACKAGES:
        assert any(line.startswith(f"{package}/") for line in collected), f"no doctest collected in {package}"
    assert not any(line.startswith("dashboard/app") for line in collected)
