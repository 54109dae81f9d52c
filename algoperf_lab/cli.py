"""The `algoperf-lab` command: parses arguments, then calls one library function per command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

USER_ERRORS: tuple[type[BaseException], ...] = ()


def _user_errors() -> tuple[type[BaseException], ...]:
  """Exceptions that are the user's to fix: printed as one message, no traceback."""
  from algoperf_lab import config, hyperparameters, loader, registry, runner
  from algoperf_lab.data import paths

  return (config.ConfigError, hyperparameters.HyperparameterError, loader.SubmissionError,
          registry.UnknownWorkloadError, runner.WorkdirInUseError, paths.DatasetNotFoundError)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="algoperf-lab", description="Benchmark neural network training algorithms.",
      epilog="Workload config keys can be overridden with --config.KEY=VALUE, e.g. "
             "--config.model.num_layers=2 --config.targets.max_allowed_runtime_sec=60.")
  commands = parser.add_subparsers(dest="command", required=True)
  commands.add_parser("list", help="show the workloads (sizes, targets, budgets) and submissions")

  run = commands.add_parser("run", help="train one submission on one workload until its target "
                            "or budget; writes metrics.jsonl and result.json in --workdir")
  run.add_argument("--workload", required=True, help="workload name, e.g. lm")
  run.add_argument("--size", default="tiny", help="tiny (CPU), small (one GPU) or full")
  run.add_argument("--submission", required=True, help="a submission .py file or dotted module")
  run.add_argument("--workdir", required=True, type=Path, help="where the run record goes")
  run.add_argument("--hparams", help="JSON file of hyperparameters (over the submission's HPARAMS)")
  run.add_argument("--seed", type=int, default=0, help="seeds every source of randomness")
  run.add_argument("--eval_every_steps", type=int, default=None,
                   help="evaluate every N steps instead of every eval_period_time_sec")
  run.add_argument("--max_steps", type=int, default=None, help="stop after N steps (debugging)")
  run.add_argument("--max_runtime_sec", type=float, default=None,
                   help="submission-time budget (default: the workload's max_allowed_runtime_sec)")
  run.add_argument("--data_dir", default=None, help="dataset folder (default: where setup put it)")
  run.add_argument("--overwrite", action="store_true", help="replace a finished run in --workdir")
  run.add_argument("--no_progress", action="store_true", help="no progress bar")
  run.add_argument("--no_compilation_cache", action="store_true",
                   help="compile from scratch (cold-start timing)")
  return parser


def _run(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runner, runtime
  from algoperf_lab.harness.loop import RunSettings

  if not args.no_compilation_cache:
    runtime.enable_compilation_cache()
  settings = RunSettings(seed=args.seed, eval_every_steps=args.eval_every_steps,
                         max_steps=args.max_steps, max_runtime_sec=args.max_runtime_sec,
                         data_dir=args.data_dir, progress=not args.no_progress)
  result = runner.run(runner.RunRequest(
      workload=args.workload, size=args.size, submission=args.submission, workdir=args.workdir,
      hparams_file=args.hparams, config_overrides=tuple(overrides), settings=settings,
      overwrite=args.overwrite))
  time_to_target = (f"{result.time_to_target_sec:.1f}s" if result.time_to_target_sec is not None
                    else "-")
  print(f"status={result.status.value} time_to_target={time_to_target} steps={result.steps} "
        f"submission_time={result.submission_time_sec:.1f}s ({result.stop_reason}); "
        f"record in {args.workdir}")
  return 0


def main(argv: Sequence[str] | None = None) -> int:
  from algoperf_lab.config import split_overrides

  argv = list(sys.argv[1:] if argv is None else argv)
  overrides, rest = split_overrides(argv)
  args = build_parser().parse_args(rest)
  try:
    if args.command == "list":
      from algoperf_lab.listing import render_listing

      if overrides:
        raise SystemExit("`list` takes no --config overrides.")
      print(render_listing())
      return 0
    return _run(args, overrides)
  except _user_errors() as error:
    print(f"algoperf-lab {args.command}: error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
