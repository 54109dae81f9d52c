"""Figures: the performance profile and per-workload training curves (PNG, Agg backend)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

from algoperf_lab.atomic_files import replaced_atomically
from algoperf_lab.scoring.profiles import profile_steps

if TYPE_CHECKING:
  from matplotlib.figure import Figure

_DPI = 150


def _pyplot() -> Any:
  """pyplot on the non-interactive Agg backend, chosen only when a figure is drawn."""
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  return plt


@dataclass(frozen=True)
class CurveRun:
  """One run's curve: whose it is, whether it is its study's best trial, and its points."""
  submission: str
  times: tuple[float, ...]
  values: tuple[float, ...]
  emphasised: bool


def submission_colours(submissions: Sequence[str]) -> dict[str, tuple[float, ...]]:
  """A stable colour per submission (sorted order), shared by every figure."""
  cmap = matplotlib.colormaps["tab10" if len(submissions) <= 10 else "tab20"]
  return {s: tuple(cmap(i % cmap.N)) for i, s in enumerate(sorted(submissions))}


def clock_axis_label(clocks: Sequence[str]) -> str:
  """"submission time (process CPU s)", "(wall s)", or both named when runs were mixed."""
  names = sorted({"process CPU s" if c == "process_cpu" else "wall s" for c in clocks})
  return f"submission time ({' / '.join(names) or 'wall s'})"


def curves_filename(workload_key: str) -> str:
  """`curves_<workload>_<size>.png` for a key like "lm/tiny" (other odd characters become _)."""
  return "curves_" + re.sub(r"[^A-Za-z0-9.-]+", "_", workload_key) + ".png"


def _save(fig: Figure, path: Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with replaced_atomically(Path(path)) as temporary:
    fig.savefig(temporary, dpi=_DPI, bbox_inches="tight")
  _pyplot().close(fig)


def plot_performance_profile(ratios: Mapping[str, Mapping[str, float]],
                             scores: Mapping[str, float], tau_max: float, path: Path) -> None:
  """Step curves rho_s(tau) on [1, tau_max], one per submission, best score first in the legend."""
  fig, ax = _pyplot().subplots(figsize=(7.0, 4.5))
  colours = submission_colours(list(ratios))
  num_workloads = max((len(per) for per in ratios.values()), default=0)
  # Best score drawn last (on top where curves overlap) but listed first in the legend.
  for name in sorted(ratios, key=lambda s: (scores.get(s, 0.0), s)):
    taus, rho = profile_steps(ratios[name], tau_max)
    ax.step(taus, rho, where="post", linewidth=2.0, color=colours[name], alpha=0.9,
            label=f"{name} (score {scores.get(name, 0.0):.3f})")
  handles, labels = ax.get_legend_handles_labels()
  ax.set_xlim(1.0, tau_max)
  ax.set_ylim(0.0, 1.02)
  ax.set_xlabel("performance ratio τ")
  ax.set_ylabel("fraction of workloads with r ≤ τ")
  ax.set_title(f"Performance profile ({num_workloads} workload"
               f"{'s' if num_workloads != 1 else ''}, τ_max = {tau_max:g})")
  ax.grid(True, alpha=0.3)
  ax.legend(handles[::-1], labels[::-1], loc="lower right", fontsize=9, frameon=True)
  _save(fig, path)


def plot_workload_curves(workload_key: str, metric: str, targets: Sequence[float],
                         runs: Sequence[CurveRun], colours: Mapping[str, tuple[float, ...]],
                         path: Path, clocks: Sequence[str] = ("wall",)) -> None:
  """Target metric vs submission time for every run; each study's best trial drawn bold. The
  x axis names the clock the runs' seconds were read on (process CPU or wall)."""
  fig, ax = _pyplot().subplots(figsize=(7.0, 4.5))
  drawn = [r for r in runs if r.times]
  # Later entries win, so each submission is labelled on an emphasised run when it has one.
  labelled = {r.submission: r for r in sorted(drawn, key=lambda r: r.emphasised)}
  for run in sorted(drawn, key=lambda r: (r.emphasised, r.submission)):
    label = run.submission if labelled.get(run.submission) is run else None
    ax.plot(run.times, run.values, color=colours.get(run.submission, "grey"),
            linewidth=1.8 if run.emphasised else 0.8, alpha=0.9 if run.emphasised else 0.3,
            marker="o" if run.emphasised else None, markersize=3, label=label)
  for target in sorted(set(targets)):
    ax.axhline(target, color="black", linestyle="--", linewidth=1.0,
               label=f"target {metric} = {target:g}")
  ax.set_xlabel(clock_axis_label(clocks))
  ax.set_ylabel(metric)
  ax.set_title(f"{workload_key}: {metric} vs submission time\n"
               "(bold: best trial of each study; faint: other trials)", fontsize=10)
  ax.grid(True, alpha=0.3)
  ax.legend(loc="best", fontsize=9)
  _save(fig, path)
