"""Writes the leaderboard as a static site that works from file:// and offline.

The page is plain HTML, CSS and JavaScript from `assets/`; the data goes in `data.js` (a script,
since browsers refuse fetch() on file://) and `leaderboard.json`; the charts use plotly.js,
copied from the `plotly` Python package (the `leaderboard` extra) beside the page, never from a
CDN. Plotly was chosen because one self-contained file gives hover values, legend toggles and
log axes with no build step, and the Python package already carries it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.leaderboard import markdown

ASSETS = ("index.html", "page.css", "page.js")
PLOTLY_FILE = "plotly.min.js"
DATA_FILE = "data.js"
JSON_FILE = "leaderboard.json"
TABLE_FILE = "table.md"  # the table as Markdown, for a README


class PlotlyMissingError(RuntimeError):
  """The plotting library the page vendors is not installed."""


def plotly_js() -> Path:
  """plotly.min.js from the installed plotly package."""
  try:
    import plotly
  except ImportError as e:
    raise PlotlyMissingError(
        "the leaderboard page needs the plotly package (it copies plotly.min.js beside the "
        "page): pip install 'algoperf_lab[leaderboard]' (scripts/setup.sh installs it).") from e
  path = Path(plotly.__file__).parent / "package_data" / PLOTLY_FILE
  if not path.is_file():
    raise PlotlyMissingError(f"{path} is missing from the installed plotly package; reinstall "
                             "it: pip install --force-reinstall 'plotly>=6,<8'.")
  return path


def write_site(data: Mapping[str, Any], out_dir: Path) -> Path:
  """Writes index.html and what it needs into out_dir; returns index.html's path."""
  source = plotly_js()
  out_dir.mkdir(parents=True, exist_ok=True)
  for name in ASSETS:
    text = resources.files("algoperf_lab.leaderboard").joinpath("assets", name).read_text()
    write_text_atomically(out_dir / name, text)
  if not (out_dir / PLOTLY_FILE).is_file() or (
      (out_dir / PLOTLY_FILE).stat().st_size != source.stat().st_size):
    shutil.copyfile(source, out_dir / PLOTLY_FILE)
  payload = json.dumps(data, indent=1, allow_nan=False, sort_keys=False)
  write_text_atomically(out_dir / JSON_FILE, payload + "\n")
  write_text_atomically(out_dir / DATA_FILE, f"window.LEADERBOARD = {payload};\n")
  write_text_atomically(out_dir / TABLE_FILE, markdown.leaderboard_table(data))
  return out_dir / "index.html"


def build_site(paths: list[Path], out_dir: Path, *, allow_mixed_hardware: bool = False,
               allow_incomplete: bool = False, bootstrap_samples: int = 1000,
               baseline: str | None = None) -> Path:
  """Scores the records under `paths` on both clocks and writes the site into out_dir (locked
  while it is written: a second command writing the same folder is refused, not raced)."""
  from algoperf_lab.harness.workdir_lock import hold_output_dir
  from algoperf_lab.leaderboard import model

  plotly_js()  # before any work: a missing extra is the first thing said
  with hold_output_dir(out_dir, "--out"):
    data = model.build(paths, out_dir, allow_mixed_hardware=allow_mixed_hardware,
                       allow_incomplete=allow_incomplete, bootstrap_samples=bootstrap_samples,
                       baseline=baseline)
    return write_site(data, out_dir)
