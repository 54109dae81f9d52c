"""Plots every learning-rate schedule in submissions/schedules/ over one step budget.

Small multiples, one panel per schedule at its submission's default HPARAMS, the learning rate
as a fraction of the peak (1cycle also shows Adam's b1; WSD its three cooldown shapes; WSM the
decay its merges emulate over the merge window; UBA several phi). Writes docs/schedules.png.

    python scripts/plot_schedules.py --step_hint=10000 --out=docs/schedules.png
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402 (after choosing the backend)

from submissions.lib.schedules import constant, cosine, inverse_sqrt, linear  # noqa: E402
from submissions.lib.schedules import one_cycle  # noqa: E402
from submissions.lib.schedules import rex, sgdr, uba, wsd, wsm  # noqa: E402
from submissions.schedules import one_cycle as one_cycle_submission  # noqa: E402
from submissions.schedules import sgdr as sgdr_submission  # noqa: E402
from submissions.schedules import uba as uba_submission  # noqa: E402
from submissions.schedules import wsd as wsd_submission  # noqa: E402
from submissions.schedules import wsm as wsm_submission  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "schedules.png"
WARMUP = 0.05  # every schedule submission's default warmup_factor
Curve = tuple[str, np.ndarray]  # (legend label or "", values over the steps)


def _values(schedule: Callable[[Any], Any], steps: np.ndarray) -> np.ndarray:
  return np.asarray(schedule(jnp.asarray(steps, jnp.int32)), np.float64)


def _wsm_emulated(step_hint: int, steps: np.ndarray, weights: str) -> np.ndarray:
  """The trained rate; in the merge window, w_j: the multiplier the last merge gives interval j."""
  hp = wsm_submission.HPARAMS
  k = hp["num_snapshots"]
  every = wsm.snapshot_interval(step_hint, hp["merge_window_fraction"], k)
  # After exactly k snapshots slot 0 holds the oldest: c lists the weights oldest first.
  c = np.asarray(wsm.merge_coefficients(jnp.int32(k), k, weights, hp["merge_decay"]))
  w = np.cumsum(c[::-1])[::-1]  # w_j = sum_(i >= j) c_i
  last = (step_hint // every) * every  # the newest snapshot's step
  out = _values(constant.warmup_constant(1.0, step_hint, hp["warmup_factor"]), steps)
  for j in range(k):  # interval j ends at snapshot j (oldest j = 0), every steps long
    end = last - (k - 1 - j) * every
    out[(steps > end - every) & (steps <= end)] = w[j]
  out[steps > last] = 0.0
  return out


def panels(step_hint: int, steps: np.ndarray) -> list[tuple[str, list[Curve]]]:
  """(title, curves) per panel; the curves are learning rates as fractions of the peak."""
  single = lambda schedule: [("", _values(schedule, steps))]  # noqa: E731
  wsd_hp, sgdr_hp = wsd_submission.HPARAMS, sgdr_submission.HPARAMS
  wsd_start = 1.0 / wsd_submission.WARMUP_INIT_DIV_FACTOR  # WSD warms up from peak/100 (epfml)
  cycle_hp = one_cycle_submission.HPARAMS
  cycle_lr = one_cycle.one_cycle_learning_rate(1.0, step_hint, cycle_hp["cycle_fraction"],
                                               cycle_hp["div_factor"], cycle_hp["final_div_factor"])
  cycle_b1 = one_cycle.one_cycle_momentum(cycle_hp["b1"], cycle_hp["b1_min"], step_hint,
                                          cycle_hp["cycle_fraction"])
  budgeted = {"cosine": cosine.warmup_cosine(1.0, step_hint, WARMUP),
              "linear (D2Z)": linear.warmup_linear_to_zero(1.0, step_hint, WARMUP),
              "REX": rex.warmup_rex(1.0, step_hint, WARMUP),
              "WSD 1-sqrt": wsd.wsd(1.0, step_hint, WARMUP, 0.2, "1-sqrt",
                                    warmup_start_fraction=wsd_start),
              "UBA phi=1": uba.warmup_uba(1.0, step_hint, WARMUP, 1.0)}
  return [
      ("cosine to 0", single(cosine.warmup_cosine(1.0, step_hint, WARMUP))),
      ("cosine to 10%", single(cosine.warmup_cosine(1.0, step_hint, WARMUP, 0.1))),
      ("linear to 0 (D2Z)", single(linear.warmup_linear_to_zero(1.0, step_hint, WARMUP))),
      ("warmup + constant", single(constant.warmup_constant(1.0, step_hint, WARMUP))),
      (f"WSD (cooldown {wsd_hp['cooldown_fraction']:.0%})",
       [(shape, _values(wsd.wsd(1.0, step_hint, WARMUP, wsd_hp["cooldown_fraction"], shape,
                                warmup_start_fraction=wsd_start), steps))
        for shape in wsd.COOLDOWN_SHAPES]),
      ("WSM: constant LR; decay emulated\nby merging the last "
       f"{wsm_submission.HPARAMS['num_snapshots']} snapshots",
       [("trained with", _values(constant.warmup_constant(1.0, step_hint, WARMUP), steps))]
       + [(f"merge: {weights}", _wsm_emulated(step_hint, steps, weights))
          for weights in wsm.MERGE_WEIGHTS]),
      ("REX", single(rex.warmup_rex(1.0, step_hint, WARMUP))),
      (f"SGDR ({sgdr_hp['num_cycles']} cycles, T_mult {sgdr_hp['cycle_mult']:g})",
       single(sgdr.warmup_sgdr(1.0, step_hint, WARMUP, sgdr_hp["num_cycles"],
                               sgdr_hp["cycle_mult"]))),
      ("1cycle (right axis: Adam b1)", [("LR", _values(cycle_lr, steps)),
                                        ("b1", _values(cycle_b1, steps))]),
      ("inverse sqrt", single(inverse_sqrt.warmup_inverse_sqrt(1.0, step_hint, WARMUP))),
      ("UBA (phi)", [(f"phi={phi:g}", _values(uba.warmup_uba(1.0, step_hint, WARMUP, phi), steps))
                     for phi in (0.5, uba_submission.HPARAMS["phi"], 2.0, 4.0)]),
      ("budgeted decays compared", [(name, _values(s, steps)) for name, s in budgeted.items()]),
  ]


def plot(step_hint: int, out: Path) -> Path:
  steps = np.arange(step_hint + 1)
  figure, axes = plt.subplots(3, 4, figsize=(16, 10.5), sharex=True)
  for axis, (title, curves) in zip(axes.flat, panels(step_hint, steps)):
    for index, (label, values) in enumerate(curves):
      if label == "b1":  # 1cycle's momentum, on its own axis
        twin = axis.twinx()
        twin.plot(steps, values, color="tab:red", linestyle="--", label="b1")
        twin.set_ylabel("Adam b1", color="tab:red")
        twin.tick_params(axis="y", colors="tab:red")
        continue
      style = "--" if label.startswith("merge") else "-"
      axis.plot(steps, values, linestyle=style, label=label or None, color=f"C{index}")
    axis.set_title(title, fontsize=11)
    axis.set_ylim(-0.03, 1.08)
    axis.grid(alpha=0.3)
    if any(label and label != "b1" for label, _ in curves):
      axis.legend(fontsize=8, loc="lower left")
  for axis in axes[:, 0]:
    axis.set_ylabel("learning rate / peak")
  for axis in axes[-1]:
    axis.set_xlabel("step")
  figure.suptitle(f"Learning-rate schedules of submissions/schedules/ at their default "
                  f"hyperparameters (step_hint = {step_hint:,}, warmup {WARMUP:.0%})", fontsize=13)
  figure.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  figure.savefig(out, dpi=110)
  plt.close(figure)
  return out


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--step_hint", type=int, default=10_000, help="the step budget to plot over")
  parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the PNG")
  args = parser.parse_args(argv)
  print(plot(args.step_hint, args.out))
  return 0


if __name__ == "__main__":
  sys.exit(main())
