"""Every command's and every script's --help prints its usage and exits 0 (issue 20: one
crashed on an unescaped % in its help text)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from algoperf_lab import cli
from tests.helpers import REPO_ROOT

SCRIPTS = sorted(str(p.relative_to(REPO_ROOT)) for folder in ("scripts", "benchmarks")
                 for p in (REPO_ROOT / folder).glob("*.py"))
COMMANDS = sorted(cli.build_parser()._subparsers._group_actions[0].choices)  # pylint: disable=protected-access


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_prints_its_help(script):
  done = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=120)
  assert done.returncode == 0, done.stderr[-1500:]
  assert "usage:" in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_help(command, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([command, "--help"])
  assert exit_info.value.code == 0
  assert f"algoperf-lab {command}" in capsys.readouterr().out
