"""scripts/plot_schedules.py draws one panel per schedule and writes a PNG."""

from __future__ import annotations

import importlib.util

import numpy as np

from tests.helpers import REPO_ROOT


def _script():
  spec = importlib.util.spec_from_file_location("plot_schedules",
                                                REPO_ROOT / "scripts" / "plot_schedules.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_every_schedule_submission_has_a_panel_and_the_png_is_written(tmp_path):
  script = _script()
  steps = np.arange(201)
  panels = script.panels(200, steps)
  schedule_files = {p.stem for p in (REPO_ROOT / "submissions" / "schedules").glob("[!_]*.py")}
  assert len(panels) == len(schedule_files) + 1  # plus the comparison panel
  for title, curves in panels:
    for label, values in curves:
      assert values.shape == steps.shape and np.all(np.isfinite(values)), (title, label)
  out = tmp_path / "schedules.png"
  assert script.main(["--step_hint=200", f"--out={out}"]) == 0
  assert out.read_bytes().startswith(b"\x89PNG")
