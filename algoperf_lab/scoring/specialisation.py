"""Expert specialisation by domain: measures over per-layer expert × domain token counts.

Input everywhere: `counts_LxExD[l, e, d]`, how many of domain d's tokens layer l routed to expert
e. With top-k routing a token adds one to each of its k experts, so the counts are
(token, chosen expert) assignments and "the expert" below is one of a token's k experts.

Normalised mutual information: NMI = I(E; D) / H(D), per layer, from the joint distribution
p(e, d) = counts / total. Dividing by H(D) (rather than by √(H(E)H(D)) or by H(E)) measures the
fraction of the domain's uncertainty that knowing the expert removes: it is 0 when expert choice
is independent of the domain and 1 exactly when every expert serves a single domain, however
many experts each domain has. With 8 experts and 2 domains H(E) can reach 3 bits while
I(E; D) ≤ H(D) ≤ 1 bit, so the symmetric normalisations could not reach 1 for perfect
specialisation. It is NaN when only one domain has tokens (H(D) = 0: nothing to explain).

Pure numpy and matplotlib (no JAX): the scoring report reads a run's counts (the lm_moe
workload's `validation/moe/layer_<l>/count/e<e>_d<d>` eval metrics in metrics.jsonl, or a
`moe_counts.json`) and draws the heatmap without importing a model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algoperf_lab.atomic_files import replaced_atomically

COUNTS_FILE = "moe_counts.json"
DEFAULT_DOMAINS = ("austen", "python")


def _as_counts(counts_LxExD: Any) -> np.ndarray:
  counts = np.asarray(counts_LxExD, np.float64)
  if counts.ndim != 3:
    raise ValueError(f"expert counts must be [layers, experts, domains], got shape {counts.shape}")
  if np.any(counts < 0) or not np.all(np.isfinite(counts)):
    raise ValueError("expert counts must be finite and non-negative")
  return counts


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
  """Entropy in nats along `axis` of distributions p (0 log 0 = 0)."""
  logs = np.log(np.where(p > 0, p, 1.0))
  return -(p * logs).sum(axis=axis)


def mutual_information(counts_LxExD: Any) -> np.ndarray:
  """I(E; D) in nats per layer, [L] (0 for a layer with no tokens)."""
  counts = _as_counts(counts_LxExD)
  total_L = counts.sum(axis=(1, 2))
  joint = counts / np.maximum(total_L, 1e-300)[:, None, None]
  p_e = joint.sum(axis=2)
  p_d = joint.sum(axis=1)
  # I = H(E) + H(D) − H(E, D)
  flat = joint.reshape(len(joint), -1)
  return np.maximum(_entropy(p_e, 1) + _entropy(p_d, 1) - _entropy(flat, 1), 0.0)


def normalised_mutual_information(counts_LxExD: Any) -> np.ndarray:
  """I(E; D) / H(D) per layer, [L], in [0, 1]; NaN where fewer than two domains have tokens."""
  counts = _as_counts(counts_LxExD)
  p_d = counts.sum(axis=1)
  p_d = p_d / np.maximum(p_d.sum(axis=1, keepdims=True), 1e-300)
  h_d = _entropy(p_d, 1)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(h_d > 1e-12, mutual_information(counts) / np.where(h_d > 0, h_d, 1.0),
                    np.nan)


def domain_shares(counts_LxExD: Any) -> np.ndarray:
  """[L, E, D]: the share of domain d's tokens in layer l that went to expert e (columns sum to
  1; a domain with no tokens is all zeros)."""
  counts = _as_counts(counts_LxExD)
  return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-300)


def expert_load(counts_LxExD: Any) -> np.ndarray:
  """[L, E]: each expert's share of the layer's token assignments, all domains together."""
  counts = _as_counts(counts_LxExD).sum(axis=2)
  return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-300)


def max_violation(counts_LxExD: Any) -> np.ndarray:
  """[L]: MaxVio = max expert load / mean expert load − 1 (0 when perfectly balanced)."""
  load = expert_load(counts_LxExD)
  return load.max(axis=1) * load.shape[1] - 1.0


# -- the run record --------------------------------------------------------------------------
METRICS_FILE = "metrics.jsonl"
# The lm_moe workload's eval metrics (workloads/lm/moe_workload.py): one per layer, expert, domain.
COUNT_KEY = re.compile(r"^validation/moe/layer_(\d+)/count/e(\d+)_d(\d+)$")


def counts_from_metrics(row: Mapping[str, Any]) -> np.ndarray | None:
  """[L, E, D] from one metrics.jsonl line's `validation/moe/layer_<l>/count/e<e>_d<d>` keys."""
  found = {tuple(int(g) for g in m.groups()): value for key, value in row.items()
           if (m := COUNT_KEY.match(key)) and isinstance(value, (int, float))}
  if not found:
    return None
  shape = tuple(1 + max(index[axis] for index in found) for axis in range(3))
  counts = np.zeros(shape, np.float64)
  for index, value in found.items():
    counts[index] = value
  return counts


def read_counts(run_dir: Path) -> tuple[np.ndarray, tuple[str, ...], int | None] | None:
  """The latest expert × domain counts of a run: (counts [L, E, D], domain names, step).

  Read from `moe_counts.json` when the run has one (a bare [L][E][D] list; an object with
  "counts" and optional "domains", "step"; or an object with "evals", a list of those, whose
  last entry is used), else from the last line of metrics.jsonl holding count metrics. None
  when neither holds counts.
  """
  run_dir = Path(run_dir)
  found = _counts_file(run_dir / COUNTS_FILE)
  if found is None:
    found = _counts_in_metrics(run_dir / METRICS_FILE)
  if found is None:
    return None
  counts, domains, step = found
  if domains is None or len(domains) != counts.shape[2]:
    domains = (DEFAULT_DOMAINS if counts.shape[2] == len(DEFAULT_DOMAINS)
               else tuple(f"domain {d}" for d in range(counts.shape[2])))
  return counts, tuple(str(d) for d in domains), step


def _counts_file(path: Path) -> tuple[np.ndarray, Sequence[str] | None, int | None] | None:
  try:
    stored = json.loads(path.read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return None
  domains = stored.get("domains") if isinstance(stored, dict) else None
  if isinstance(stored, dict) and isinstance(stored.get("evals"), list) and stored["evals"]:
    stored = stored["evals"][-1]
    if isinstance(stored, dict):
      domains = stored.get("domains", domains)
  step = stored.get("step") if isinstance(stored, dict) else None
  try:
    counts = _as_counts(stored.get("counts") if isinstance(stored, dict) else stored)
  except (TypeError, ValueError):
    return None
  return counts, domains, None if step is None else int(step)


def _counts_in_metrics(path: Path) -> tuple[np.ndarray, None, int | None] | None:
  try:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
  except OSError:
    return None
  for line in reversed(lines):
    if "/count/e" not in line:  # most runs record none: skip parsing their lines
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    counts = counts_from_metrics(row) if isinstance(row, dict) else None
    if counts is not None:
      step = row.get("step")
      return _as_counts(counts), None, step if isinstance(step, int) else None
  return None


# -- the figure and the report -------------------------------------------------------------------
def plot_heatmap(counts_LxExD: Any, path: Path, domains: Sequence[str] = DEFAULT_DOMAINS,
                 title: str = "") -> Path:
  """One panel per layer: experts (rows) × domains (columns), coloured by the share of each
  domain's tokens the expert received; each panel's title gives the layer's NMI."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  shares = domain_shares(counts_LxExD)
  nmi = normalised_mutual_information(counts_LxExD)
  num_layers, num_experts, num_domains = shares.shape
  fig, axes = plt.subplots(1, num_layers, squeeze=False,
                           figsize=(1.0 + 1.1 * num_domains * num_layers, 1.2 + 0.32 * num_experts))
  top = max(float(shares.max()), 1e-9)
  for layer, ax in enumerate(axes[0]):
    image = ax.imshow(shares[layer], cmap="viridis", vmin=0.0, vmax=top, aspect="auto")
    ax.set_title(f"layer {layer}\nNMI {nmi[layer]:.2f}", fontsize=9)
    ax.set_xticks(range(num_domains), list(domains), fontsize=8)
    ax.set_yticks(range(num_experts), [str(e) for e in range(num_experts)], fontsize=7)
    if layer == 0:
      ax.set_ylabel("expert")
    for e in range(num_experts):
      for d in range(num_domains):
        value = shares[layer, e, d]
        ax.text(d, e, f"{value:.2f}", ha="center", va="center", fontsize=6,
                color="black" if value > 0.6 * top else "white")
  fig.colorbar(image, ax=axes[0].tolist(), fraction=0.03, pad=0.02,
               label=f"share of the domain's tokens (uniform: 1/{num_experts})")
  if title:
    fig.suptitle(title, fontsize=10, y=1.02)
  path.parent.mkdir(parents=True, exist_ok=True)
  with replaced_atomically(Path(path)) as temporary:
    fig.savefig(temporary, dpi=130, bbox_inches="tight")
  plt.close(fig)
  return path


def report_section(runs: Sequence[tuple[str, Path]], out_dir: Path) -> tuple[list[str], list[Path]]:
  """report.md's "Expert specialisation" lines and the heatmaps they link, for the runs (label,
  run directory) that record expert × domain counts; ([], []) when none does."""
  rows, figures, lines = [], [], []
  for label, run_dir in runs:
    found = read_counts(run_dir)
    if found is None:
      continue
    counts, domains, step = found
    nmi = normalised_mutual_information(counts)
    name = f"moe_specialisation_{len(figures)}.png"
    figures.append(plot_heatmap(counts, Path(out_dir) / name, domains,
                                title=f"{label}" + (f", step {step}" if step is not None else "")))
    rows.append(f"| {label} | {'' if step is None else step} | "
                + ", ".join(_fmt(v) for v in nmi) + f" | {_fmt(float(np.nanmean(nmi)))} | "
                + ", ".join(f"{v:.2f}" for v in max_violation(counts)) + " |")
    lines += [f"![{label} expert × domain shares]({name})", ""]
  if not rows:
    return [], []
  head = ["## Expert specialisation", "",
          "Normalised mutual information I(E; D) / H(D) between expert choice and domain at "
          "the last recorded eval (0: independent of the domain, 1: every expert serves one "
          "domain), per layer, and each layer's MaxVio (max expert load / mean − 1). Heatmaps: "
          "the share of each domain's tokens that each expert received.", "",
          "| run | step | NMI per layer | mean NMI | MaxVio per layer |", "|---|---|---|---|---|",
          *rows, ""]
  return head + lines, figures


def _fmt(value: float) -> str:
  return "n/a" if math.isnan(value) else f"{value:.3f}"
