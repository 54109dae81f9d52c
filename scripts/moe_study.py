"""The MoE load-balancing study ("Demons in the Detail", Qiu et al. 2025, at tiny scale).

No balancing vs micro-batch LBL vs global-batch LBL vs auxiliary-loss-free bias balancing
(submissions/moe/), each with several seeds, on lm_moe over 8 fake CPU devices with data
parallelism (the micro-batch LBL's micro-batches are then the devices' shards), all for the same
number of steps: runs do not stop at the target. A finished run (result.json) is reused when
it ran the same steps and the WORKLOAD_OPTIONS its submission chooses today (otherwise the
study stops, naming it), a killed one resumes. Prints a Markdown table and writes it, with one
expert × domain heatmap per balancing rule (counts summed over seeds), to
WORKDIR/report/moe_study.md:

- validation bits/byte at the last step (mean ± standard deviation over seeds);
- time to target: the submission time of the first eval meeting lm_moe's validation target
  (median over seeds; "miss" when the median seed misses or passes the workload's budget);
- MaxVio: max expert load / mean load − 1 over the validation set, mean over layers;
- specialisation: I(E; D) / H(D) between expert choice and domain (algoperf_lab/scoring/specialisation.py),
  mean over layers, at the last eval.

    python scripts/moe_study.py --workdir=runs/moe_study --seeds=0,1,2
    python scripts/moe_study.py --workdir=/tmp/moe_smoke --seeds=0 --max_steps=4 \
        --eval_every_steps=2 --small   # a smoke check
"""

from __future__ import annotations

import os
import sys

DEVICES = 8
if __name__ == "__main__":  # the fake devices must be set before JAX is imported
  _flags = os.environ.get("XLA_FLAGS", "")
  if "xla_force_host_platform_device_count" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_force_host_platform_device_count={DEVICES}".strip()

# pylint: disable=wrong-import-position
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BALANCES = {  # the workload option's value -> the submission that chooses it
    "none": "submissions/moe/adamw_none.py",
    "micro_batch_lbl": "submissions/moe/adamw_micro_lbl.py",
    "global_batch_lbl": "submissions/moe/adamw_global_lbl.py",
    "aux_loss_free": "submissions/moe/adamw_aux_free.py",
}
SMALL = ("--config.model.num_layers=2", "--config.model.d_model=32", "--config.model.num_heads=2",
         "--config.model.max_seq_len=32", "--config.data.seq_len=32",
         "--config.moe.expert_mlp_dim=16", "--config.data.num_eval_train_examples=16",
         "--config.data.num_validation_examples=32", "--config.data.num_test_examples=16",
         "--config.data.eval_batch_size=16")
FINISHED = ("reached", "missed", "diverged", "capped")


@dataclass(frozen=True)
class RunSummary:
  """What the table reads from one run record."""
  balance: str
  seed: int
  steps: int
  bits_per_byte: float
  time_to_target_sec: float  # inf: not reached within the budget
  counts_LxExD: np.ndarray | None


def run_all(workdir: Path, balances: list[str], seeds: list[int], steps: int,
            eval_every_steps: int, overrides: tuple[str, ...], executor: object = None) -> None:
  """Every (balance, seed) run as one sweep, for `steps` steps each, past the target."""
  from algoperf_lab import registry, runtime  # pylint: disable=import-outside-toplevel
  from algoperf_lab.harness.loop import RunSettings  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.engine import run_sweep  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.executors import LocalExecutor  # pylint: disable=import-outside-toplevel
  from algoperf_lab.sweeps.fixed_runs import fixed_run_spec  # pylint: disable=import-outside-toplevel

  runtime.enable_compilation_cache()
  budget = registry.make_workload("lm_moe", "tiny", overrides).max_allowed_runtime_sec
  specs = []
  for balance in balances:
    for seed in seeds:
      run_dir = workdir / "runs" / balance / f"seed_{seed}"
      if _status(run_dir) in FINISHED:
        check_reusable(run_dir, balance, steps)
      specs.append(fixed_run_spec(
          workload="lm_moe", size="tiny", submission=str(ROOT / BALANCES[balance]), seed=seed,
          workdir=run_dir, config_overrides=overrides, label=f"{balance} seed {seed}",
          settings=RunSettings(max_steps=steps, eval_every_steps=eval_every_steps,
                               stop_at_target=False, max_runtime_sec=100.0 * budget,
                               progress=True, clock="wall")))
  run_sweep(specs, executor or LocalExecutor(lambda line: print(line, file=sys.stderr)),
            report=lambda line: print(line, file=sys.stderr))


def check_reusable(run_dir: Path, balance: str, steps: int) -> None:
  """A finished run is reused only if it ran `steps` steps with the WORKLOAD_OPTIONS its
  submission chooses today (a routing rule that changed since, e.g. aux_loss_free's score
  function, is measured again in another workdir, never mixed with the old records)."""
  from algoperf_lab import hyperparameters, loader  # pylint: disable=import-outside-toplevel

  done = json.loads((run_dir / "result.json").read_text())
  if done["status"] != "diverged" and done["steps"] != steps:
    raise SystemExit(f"moe_study: {run_dir} ran {done['steps']} steps, not {steps}; "
                     "use another --workdir for another step count.")
  submission = loader.load_submission(str(ROOT / BALANCES[balance]))
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, {},
                                                 submission.source)
  options = json.loads(json.dumps(submission.resolve_workload_options(hparams)))
  if done.get("workload_options") != options:
    raise SystemExit(f"moe_study: {run_dir} ran with WORKLOAD_OPTIONS "
                     f"{done.get('workload_options')}, not {BALANCES[balance]}'s {options} of "
                     "today; use another --workdir to measure it again.")


def _status(run_dir: Path) -> str | None:
  try:
    return json.loads((run_dir / "result.json").read_text()).get("status")
  except (OSError, ValueError):
    return None


def summarise(run_dir: Path, balance: str, seed: int) -> RunSummary:
  from algoperf_lab.scoring import specialisation  # pylint: disable=import-outside-toplevel

  result = json.loads((run_dir / "result.json").read_text())
  evals = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
           if line.strip()]
  evals = [e for e in evals if "validation/bits_per_byte" in e]
  metric, target = result["target_metric"], result["target_value"]
  lower = result["target_direction"] == "lower"
  budget = result.get("max_allowed_runtime_sec") or math.inf
  budget = min(budget, (result.get("workload_config") or {}).get("targets", {}).get(
      "max_allowed_runtime_sec", math.inf))
  reached = [e["submission_time_sec"] for e in evals if e.get(metric) is not None
             and (e[metric] <= target if lower else e[metric] >= target)]
  time_sec = reached[0] if reached and reached[0] <= budget else math.inf
  found = specialisation.read_counts(run_dir)
  return RunSummary(balance, seed, evals[-1]["step"] if evals else 0,
                    evals[-1]["validation/bits_per_byte"] if evals else math.nan, time_sec,
                    None if found is None else found[0])


def _mean_sd(values: list[float]) -> str:
  if len(values) == 1:
    return f"{values[0]:.4f}"
  return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def _median_time(times: list[float]) -> str:
  reached = sum(math.isfinite(t) for t in times)
  median = statistics.median(times)
  return f"{'miss' if not math.isfinite(median) else f'{median:.1f}'} ({reached}/{len(times)})"


def table(summaries: list[RunSummary], target: str) -> list[str]:
  """The Markdown table, one row per balancing rule."""
  from algoperf_lab.scoring import specialisation  # pylint: disable=import-outside-toplevel

  lines = ["| balance | seeds | steps | validation bits/byte | time to target (s) | "
           "MaxVio (validation) | specialisation NMI | heatmap |", "|---|---|---|---|---|---|---|---|"]
  for balance in BALANCES:
    rows = [s for s in summaries if s.balance == balance]
    if not rows:
      continue
    counted = [s.counts_LxExD for s in rows if s.counts_LxExD is not None]
    max_vio = [float(specialisation.max_violation(c).mean()) for c in counted]
    nmi = [float(np.nanmean(specialisation.normalised_mutual_information(c))) for c in counted]
    lines.append(
        f"| {balance} | {len(rows)} | {'/'.join(sorted({str(s.steps) for s in rows}))} | "
        f"{_mean_sd([s.bits_per_byte for s in rows])} | "
        f"{_median_time([s.time_to_target_sec for s in rows])} | "
        f"{_mean_sd(max_vio) if max_vio else 'n/a'} | {_mean_sd(nmi) if nmi else 'n/a'} | "
        f"{f'![{balance}](heatmap_{balance}.png)' if counted else 'n/a'} |")
  return lines + ["", f"Target: {target}. Mean ± sd over seeds; time to target: median over "
                  "seeds (seeds reaching it / seeds)."]


def target_text(result: dict[str, Any]) -> str:
  """A run record's target as the table's footnote states it, e.g. `metric <= 2.863`."""
  sign = "<=" if result["target_direction"] == "lower" else ">="
  return f"{result['target_metric']} {sign} {result['target_value']}"


def report(workdir: Path, balances: list[str], seeds: list[int]) -> str:
  """Reads the runs, draws the heatmaps and writes WORKDIR/report/moe_study.md."""
  from algoperf_lab.scoring import specialisation  # pylint: disable=import-outside-toplevel

  out = workdir / "report"
  summaries, target = [], "n/a"
  for balance in balances:
    for seed in seeds:
      run_dir = workdir / "runs" / balance / f"seed_{seed}"
      if _status(run_dir) in FINISHED:
        summaries.append(summarise(run_dir, balance, seed))
        target = target_text(json.loads((run_dir / "result.json").read_text()))
    counted = [s.counts_LxExD for s in summaries
               if s.balance == balance and s.counts_LxExD is not None]
    if counted:
      specialisation.plot_heatmap(sum(counted), out / f"heatmap_{balance}.png",
                                  title=f"lm_moe, {balance}, seeds {','.join(map(str, seeds))}")
  text = "\n".join(table(summaries, target)) + "\n"
  out.mkdir(parents=True, exist_ok=True)
  (out / "moe_study.md").write_text(text)
  return text


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, type=Path)
  parser.add_argument("--seeds", default="0,1,2,3,4",
                      help="comma-separated seeds (5 by default: what a paired comparison needs)")
  parser.add_argument("--balances", default=",".join(BALANCES),
                      help=f"comma-separated, from {', '.join(BALANCES)}")
  parser.add_argument("--max_steps", type=int, default=None,
                      help="steps per run, the same for all (default: lm_moe's step_hint)")
  parser.add_argument("--eval_every_steps", type=int, default=50)
  parser.add_argument("--small", action="store_true", help="a width-32 model (smoke checks)")
  from algoperf_lab.cli import add_executor_flags  # pylint: disable=import-outside-toplevel

  add_executor_flags(parser)
  parser.add_argument("--override", action="append", default=[],
                      help="passed to every run, e.g. --override=--config.batch_size=32")
  args = parser.parse_args(argv)
  balances = args.balances.split(",")
  unknown = sorted(set(balances) - set(BALANCES))
  if unknown:
    parser.error(f"--balances: unknown {unknown}; choose from {', '.join(BALANCES)}")
  import jax  # pylint: disable=import-outside-toplevel
  from algoperf_lab import registry  # pylint: disable=import-outside-toplevel

  if jax.device_count() != DEVICES:
    print(f"moe_study: {jax.device_count()} devices, not {DEVICES}; run it as a script (it sets "
          "XLA_FLAGS before JAX starts).", file=sys.stderr)
    return 2
  overrides = (*(SMALL if args.small else ()), *args.override)
  steps = args.max_steps or registry.make_workload("lm_moe", "tiny", overrides).step_hint
  seeds = [int(s) for s in args.seeds.split(",")]
  from algoperf_lab.cli import executor_from_args  # pylint: disable=import-outside-toplevel

  run_all(args.workdir, balances, seeds, steps, min(args.eval_every_steps, steps), overrides,
          executor_from_args(args))
  print(report(args.workdir, balances, seeds), end="")
  return 0


if __name__ == "__main__":
  sys.exit(main())
