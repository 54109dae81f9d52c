"""The committed leaderboard sites (docs/leaderboard/BOARD/): the README's tables are theirs,
their table.md is their leaderboard.json's, and (slow) the leaderboard command rebuilds them
from the committed records (results/leaderboard_tiny/BOARD/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoperf_lab import cli
from algoperf_lab.leaderboard import markdown, readme_blocks
from tests.helpers import REPO_ROOT

SITES = sorted(p.parent.name for p in readme_blocks.SITES.glob("*/leaderboard.json"))
RECORDS = REPO_ROOT / "results" / "leaderboard_tiny"
NUMBERS = ("workloads", "tau_max", "num_runs", "clocks", "profiles", "ranks", "anytime")


def test_every_readme_block_is_its_committed_site_s_table():
  readme = (REPO_ROOT / "README.md").read_text()
  assert set(readme_blocks.blocks(readme)) == set(SITES)
  assert readme_blocks.filled(readme) == readme


def test_a_block_without_a_site_is_named(tmp_path):
  with pytest.raises(readme_blocks.MissingSiteError, match="leaderboard:nope block has no"):
    readme_blocks.filled("<!-- leaderboard:nope -->\nold\n<!-- /leaderboard:nope -->", tmp_path)
  site = tmp_path / "b"
  site.mkdir()
  (site / "table.md").write_text("| new |\n")
  assert readme_blocks.filled("x\n<!-- leaderboard:b -->\nold\n<!-- /leaderboard:b -->\ny",
                              tmp_path) == "x\n<!-- leaderboard:b -->\n| new |\n<!-- /leaderboard:b -->\ny"


@pytest.mark.parametrize("board", SITES)
def test_the_table_is_the_site_s_numbers(board):
  site = readme_blocks.SITES / board
  data = json.loads((site / "leaderboard.json").read_text())
  assert (site / "table.md").read_text() == markdown.leaderboard_table(data)
  for shot in ("table", "profiles", "curves", "anytime", "submissions"):
    assert (site / "screenshots" / f"leaderboard_{shot}.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("board", SITES)
def test_the_leaderboard_command_rebuilds_the_site_from_the_records(board, tmp_path):
  committed = json.loads((readme_blocks.SITES / board / "leaderboard.json").read_text())
  out = tmp_path / board
  assert cli.main(["leaderboard", str(RECORDS / board), f"--out={out}"]) == 0
  rebuilt = json.loads((out / "leaderboard.json").read_text())
  assert {k: rebuilt[k] for k in NUMBERS} == {k: committed[k] for k in NUMBERS}
  assert rebuilt["compute"] == committed["compute"]
