"""The README's leaderboard tables, copied from the committed sites' `table.md` between markers:

    <!-- leaderboard:BOARD -->
    ...the table, generated...
    <!-- /leaderboard:BOARD -->

`python -m algoperf_lab.leaderboard.readme_blocks` rewrites every such block from
`docs/leaderboard/BOARD/table.md` (a block whose site is missing is an error naming it), and
a test checks that each block is its site's table, so no leaderboard number is typed by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITES = ROOT / "docs" / "leaderboard"
BLOCK = re.compile(r"(<!-- leaderboard:(?P<board>[\w-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /leaderboard:(?P=board) -->)", re.DOTALL)


class MissingSiteError(FileNotFoundError):
  """A README block names a board with no committed site."""


def blocks(text: str) -> dict[str, str]:
  """Board name -> the text between its markers."""
  return {m["board"]: m["body"] for m in BLOCK.finditer(text)}


def filled(text: str, sites: Path = SITES) -> str:
  """`text` with every block replaced by its site's table.md."""
  def table(match: re.Match[str]) -> str:
    path = sites / match["board"] / "table.md"
    if not path.is_file():
      raise MissingSiteError(f"the README's leaderboard:{match['board']} block has no {path}; "
                             f"build it with `algoperf-lab leaderboard ... --out={path.parent}`.")
    return match.group(1) + path.read_text() + match.group(4)
  return BLOCK.sub(table, text)


def main() -> int:
  readme = ROOT / "README.md"
  readme.write_text(filled(readme.read_text()))
  print(f"{readme}: leaderboard blocks {', '.join(blocks(readme.read_text())) or 'none'} rewritten")
  return 0


if __name__ == "__main__":
  sys.exit(main())
