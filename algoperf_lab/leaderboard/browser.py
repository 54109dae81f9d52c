"""Headless Chromium for the leaderboard's browser tests and screenshots: Debian's system
browser driven by playwright (nothing downloads a browser)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")


def chromium_path() -> str | None:
  """The system Chromium (ALGOPERF_LAB_CHROMIUM overrides), or None."""
  named = os.environ.get("ALGOPERF_LAB_CHROMIUM")
  if named:
    return named if Path(named).is_file() else None
  for candidate in CHROMIUM_CANDIDATES:
    if Path(candidate).is_file():
      return candidate
  found = shutil.which("chromium")
  return found


def missing() -> str | None:
  """One line saying what the browser needs and lacks, or None when it can run."""
  try:
    import playwright.sync_api  # noqa: F401
  except ImportError:
    return "the playwright package is not installed (pip install -e '.[test]'; scripts/setup.sh does)"
  if chromium_path() is None:
    return ("no Chromium at /usr/bin/chromium (apt-get install chromium; scripts/setup.sh does as "
            "root), or set ALGOPERF_LAB_CHROMIUM")
  return None


@contextlib.contextmanager
def open_page(index: Path, width: int = 1400, height: int = 1000) -> Iterator[tuple[Any, list[str]]]:
  """The page at `index` (a file:// URL) in headless Chromium, and the list its console
  errors and uncaught exceptions are appended to."""
  from playwright.sync_api import sync_playwright

  errors: list[str] = []
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=chromium_path(),
                                         args=list(CHROMIUM_ARGS))
    try:
      page = browser.new_page(viewport={"width": width, "height": height})
      page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
      page.on("pageerror", lambda e: errors.append(str(e)))
      page.goto(index.resolve().as_uri())
      page.wait_for_function("document.querySelectorAll('#leaderboard-table tbody tr').length > 0")
      yield page, errors
    finally:
      browser.close()


def screenshot_views(index: Path, out_dir: Path) -> list[Path]:
  """A PNG of each view of the page (table, profiles, paired comparisons, curves, anytime by
  budget, a submission), and of the anytime view by target looseness at its loosest level
  (anytime_target)."""
  out_dir.mkdir(parents=True, exist_ok=True)
  shots = []
  with open_page(index) as (page, _):
    page.evaluate("document.querySelectorAll('details')[0]?.setAttribute('open', '')")
    for section in ("table", "profiles", "paired", "curves", "anytime", "submissions"):
      path = out_dir / f"leaderboard_{section}.png"
      page.locator(f"#{section}").screenshot(path=str(path))
      shots.append(path)
    page.select_option("#anytime-mode", "target")
    page.wait_for_timeout(300)  # plotly redraws the chart
    path = out_dir / "leaderboard_anytime_target.png"
    page.locator("#anytime").screenshot(path=str(path))
    shots.append(path)
  return shots
