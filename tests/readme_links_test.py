"""Every relative link and image in the README names a file of the repository."""

from __future__ import annotations

import re

from tests.helpers import REPO_ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_readme_resolves():
  readme = (REPO_ROOT / "README.md").read_text()
  targets = [t.split("#")[0] for t in LINK.findall(readme)
             if not t.startswith(("http://", "https://", "mailto:", "#"))]
  assert len(targets) > 10  # the leaderboard pages and screenshots at least
  missing = sorted({t for t in targets if not (REPO_ROOT / t).exists()})
  assert not missing, f"README links to files that do not exist: {missing}"
