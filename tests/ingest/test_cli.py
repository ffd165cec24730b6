"""The ``sitless`` entry point: every subcommand reachable, and each importing only its own module."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from ingest import cli


def _registered(module: str) -> list[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module).register(sub)
    return list(sub.choices)


def test_the_table_of_commands_names_what_each_module_registers() -> None:
    """``_COMMANDS`` maps each subcommand to the module that registers it, and misses none."""
    for module in dict.fromkeys(cli._COMMANDS.values()):
        assert _registered(module) == [c for c, m in cli._COMMANDS.items() if m == module], module


def test_the_full_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in cli._COMMANDS)


def test_a_command_is_parsed_with_only_its_own_module() -> None:
    assert cli._modules(["-v", "analyze", "x.csv", "--placement", "thigh"]) == ["ingest.analyze_cmd"]
    assert cli._modules(["prune", "--keep-days", "30"]) == ["ingest.data_cmd"]
    assert len(cli._modules(["--version"])) == len(set(cli._COMMANDS.values()))
    assert len(cli._modules(["no-such-command"])) == len(set(cli._COMMANDS.values()))  # argparse names the choices


def test_sitless_analyze_does_not_load_the_database_layer() -> None:
    """``sitless analyze`` starts without SQLAlchemy, paho or the gateway's BLE library (about 0.4 s of imports)."""
    code = (
        "import sys\n"
        "from ingest.cli import main\n"
        "try:\n"
        "    main(['analyze', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'paho', 'bleak') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
