"""The `algoperf-lab` command: parses arguments, then calls one library function per command."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any
from pathlib import Path

from algoperf_lab import config
from algoperf_lab.harness.clock import CLOCK_CHOICES


def _user_errors() -> tuple[type[BaseException], ...]:
  """Exceptions that are the user's to fix: printed as one message, no traceback."""
  from algoperf_lab import config, hyperparameters, loader, registry, runner
  from algoperf_lab.data import paths

  from algoperf_lab.calibration.candidates import CalibrationError
  from algoperf_lab.scoring import ScoringError
  from algoperf_lab.tuning.search_space import SearchSpaceError
  from algoperf_lab.tuning.study import TuningError
  from algoperf_lab.harness.loop import ParallelismError, ResumeCheckpointError
  from algoperf_lab.harness.pmap_form import PmapApiError
  from algoperf_lab.harness.loop import BatchSizeTypeError, MissingHyperparametersError
  from algoperf_lab.harness.clock import ClockError
  from algoperf_lab import spec
  from algoperf_lab.harness.resume import ResumeMismatchError
  from algoperf_lab.harness.workdir_lock import WorkdirError
  from algoperf_lab.data.batch_size import BatchSizeError
  from algoperf_lab.target_setting.procedure import PlanError
  from algoperf_lab.target_setting.rules import TargetSettingError
  from algoperf_lab.sweeps.ray_executor import RayNotInstalledError
  from algoperf_lab.sweeps.study_config import StudyConfigError
  from algoperf_lab.cpu_cores import CpuCoresError
  from algoperf_lab.leaderboard.page import PlotlyMissingError
  from algoperf_lab.sweeps.board_hardware import BoardHardwareError
  from algoperf_lab.target_setting.machine_budgets import BudgetTimingError
  from algoperf_lab.sweeps.engine import DuplicateTrialError

  return (config.ConfigError, hyperparameters.HyperparameterError, loader.SubmissionError,
          registry.UnknownWorkloadError, runner.WorkdirInUseError, paths.DatasetNotFoundError,
          paths.DatasetCorruptError, WorkdirError, runner.DiskFullError, BatchSizeError,
          ScoringError, SearchSpaceError, TuningError, ResumeMismatchError, ResumeCheckpointError,
          ParallelismError, PmapApiError, MissingHyperparametersError,
          spec.WorkloadOptionError, ClockError, BatchSizeTypeError, CalibrationError,
          PlanError, TargetSettingError, RayNotInstalledError, StudyConfigError,
          CpuCoresError, PlotlyMissingError, BoardHardwareError, BudgetTimingError,
          DuplicateTrialError)


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
  run.add_argument("--workdir", required=True, type=config.non_empty_path,
                   help="where the run record goes")
  run.add_argument("--hparams", help="JSON file of hyperparameters (over the submission's HPARAMS)")
  run.add_argument("--seed", type=config.seed, default=0,
                   help="seeds every source of randomness (0 <= seed < 2**32)")
  run.add_argument("--eval_every_steps", type=config.positive_int, default=None,
                   help="evaluate every N steps instead of every eval_period_time_sec")
  run.add_argument("--max_steps", type=config.positive_int, default=None,
                   help="stop after N steps (debugging)")
  run.add_argument("--max_runtime_sec", type=config.finite_positive_float, default=None,
                   help="submission-time budget (default: the workload's max_allowed_runtime_sec)")
  run.add_argument("--data_dir", default=None, help="dataset folder (default: where setup put it)")
  run.add_argument("--overwrite", action="store_true",
                   help="replace the run in --workdir (finished or not) and its checkpoints")
  run.add_argument("--checkpoint_every_sec", type=config.finite_non_negative_float, default=300.0,
                   help="wall seconds between checkpoints (also at the end and on SIGTERM); "
                   "a run in a workdir with checkpoints resumes from the last good one")
  run.add_argument("--no_checkpoints", action="store_true", help="write no checkpoints")
  run.add_argument("--sharding", choices=("replicated", "fsdp", "expert"), default="replicated",
                   help="optax-form training state: replicated (data parallel), FSDP, or expert "
                   "parallel (an MoE's experts split over the mesh's expert axis)")
  run.add_argument("--mesh_data", type=config.mesh_axis_size, default=-1,
                   help="devices on the mesh's data axis (-1: all that remain)")
  run.add_argument("--mesh_fsdp", type=config.positive_int, default=1,
                   help="devices on the mesh's fsdp axis")
  run.add_argument("--mesh_expert", type=config.positive_int, default=1,
                   help="devices on the mesh's expert axis (with --sharding=expert)")
  run.add_argument("--algoperf_api", choices=("auto", "jit", "pmap"), default="auto",
                   help="AlgoPerf-form submissions: the API generation they are written for "
                   "(jit: current AlgoPerf; pmap: v0.5, replicated state and device-leading "
                   "batches); auto detects it from the file")
  run.add_argument("--clock", choices=CLOCK_CHOICES, default="auto",
                   help="what the submission clock reads: wall time, or process_cpu (this process's CPU time, robust to other load on a shared CPU host; budgets measured for it); auto: process_cpu on a CPU backend where the workload has a measured CPU budget, else wall")
  run.add_argument("--no_progress", action="store_true", help="no progress bar")
  run.add_argument("--no_compilation_cache", action="store_true",
                   help="compile from scratch (cold-start timing)")
  run.add_argument("--cpu_cores", type=config.positive_int, default=None,
                   help="keep to this many CPU cores (CPU affinity; one core also switches off "
                   "XLA's multi-threaded kernels). The tiny CPU budgets are measured at one core "
                   "per run, so on CPU --cpu_cores=1 times a run as the budgets were timed; "
                   "records of different core counts are not scored together")

  tune = commands.add_parser("tune", help="run tuning studies (AlgoPerf rulesets); each trial is "
                             "a run record under WORKDIR/study_i/trial_j")
  tune.add_argument("--workload", required=True)
  tune.add_argument("--size", default="tiny")
  tune.add_argument("--submission", required=True)
  tune.add_argument("--workdir", required=True, type=config.non_empty_path)
  tune.add_argument("--ruleset", choices=("external", "self"), default="external")
  tune.add_argument("--search_space", help="AlgoPerf-format JSON search space (external tuning)")
  tune.add_argument("--studies", type=config.positive_int, default=1)
  tune.add_argument("--trials", type=config.positive_int, default=1)
  tune.add_argument("--study", type=config.non_negative_int, default=None,
                    help="run only this study (0-based)")
  tune.add_argument("--trial", type=config.non_negative_int, default=None,
                    help="run only this trial (0-based)")
  tune.add_argument("--seed", type=config.seed, default=0,
                    help="base seed of the trial draws and runs")
  tune.add_argument("--self_tuning_budget_factor", type=config.finite_positive_float,
                    default=1.5)
  add_executor_flags(tune)
  tune.add_argument("--eval_every_steps", type=config.positive_int, default=None)
  tune.add_argument("--max_steps", type=config.positive_int, default=None)
  tune.add_argument("--data_dir", default=None)
  tune.add_argument("--clock", choices=CLOCK_CHOICES, default="auto",
                   help="what the submission clock reads: wall time, or process_cpu (this process's CPU time, robust to other load on a shared CPU host; budgets measured for it); auto: process_cpu on a CPU backend where the workload has a measured CPU budget, else wall")
  tune.add_argument("--no_progress", action="store_true")

  score = commands.add_parser("score", help="score lab run records and/or AlgoPerf logs with "
                              "performance profiles; writes scores.json, report.md and plots to "
                              "--out (<out>/lab_records and <out>/algoperf_logs when both)")
  score.add_argument("dirs", nargs="+", type=Path,
                     help="folders of run records (result.json) or AlgoPerf experiment trees "
                     "(<submission>/study_<k>/<workload>_<jax|pytorch>/trial_<j>/), searched "
                     "recursively")
  score.add_argument("--out", required=True, type=Path)
  score.add_argument("--tau_max", type=float, default=4.0)
  score.add_argument("--baseline", default=None, help="submission to compute speedups against")
  score.add_argument("--allow_mixed_hardware", action="store_true")
  score.add_argument("--bootstrap_samples", type=int, default=1000)
  score.add_argument("--allow_incomplete", action="store_true",
                     help="score even when some records are corrupt, preempted or still running "
                     "(their gaps are marked in the tables)")
  score.add_argument("--group_by_config", action="store_true",
                     help="score records of one workload with different targets, budgets or "
                     "workload configs as separate workloads instead of refusing")
  score.add_argument("--algoperf_version", choices=("0.5", "0.6"), default=None,
                     help="AlgoPerf's frozen targets for AlgoPerf logs (base and held-out "
                     "workloads, target per workload)")
  score.add_argument("--algoperf_targets", type=Path, default=None,
                     help="a targets file in AlgoPerf's workload_targets.json format")
  score.add_argument("--ruleset", choices=("external", "self"), default="external",
                     help="the tuning ruleset of the AlgoPerf logs")
  score.add_argument("--algoperf_rules", action="store_true",
                     help="score the lab's records under AlgoPerf's rules, in one table with any "
                     "AlgoPerf logs")
  score.add_argument("--no_progress", action="store_true", help="no progress bar")

  leaderboard = commands.add_parser(
      "leaderboard", help="score run records on the time and the step clock and write a static "
      "web page (index.html, works from file:// and offline) with the sortable table, "
      "performance profiles, validation curves, the anytime view and every run's command")
  leaderboard.add_argument("dirs", nargs="+", type=Path,
                           help="folders of run records (result.json), searched recursively")
  leaderboard.add_argument("--out", required=True, type=Path, help="the site's folder")
  leaderboard.add_argument("--allow_mixed_hardware", action="store_true")
  leaderboard.add_argument("--allow_incomplete", action="store_true",
                           help="build even when some records are corrupt, preempted, running or "
                           "capped (their gaps are marked)")
  leaderboard.add_argument("--bootstrap_samples", type=config.positive_int, default=1000)
  leaderboard.add_argument("--baseline", default=None, metavar="SUBMISSION",
                           help="compare every other submission with this one study by study "
                           "(same seeds): faster/slower pairs, sign test, time ratio interval")
  leaderboard.add_argument("--screenshots", type=Path, default=None,
                           help="also save a PNG of each view of the page into this folder "
                           "(headless Chromium through playwright, as scripts/setup.sh installs)")
  score.add_argument("--clock", choices=("time", "steps"), default="time",
                     help="score lab records by submission time to target (time) or by steps "
                     "to target (steps); report.md gives the ranks on both")
  score.add_argument("--mtl_reference", default=None, metavar="SUBMISSION",
                     help="multi-task workloads: report Δm%% of every submission's per-task "
                          "metrics against this one (Maninis et al. 2019)")

  export = commands.add_parser("export-algoperf", help="write run records as an AlgoPerf "
                               "experiment tree (eval_measurements.csv, hparams.json, "
                               "meta_data_0.json) plus workload_targets.json")
  export.add_argument("runs_dir", type=Path, help="folder of run records (searched recursively)")
  export.add_argument("--out", required=True, type=Path, help="a new or empty folder")

  calibrate = commands.add_parser(
      "calibrate", help="calibrate the non-learning-rate hyperparameters of self-tuning "
      "submissions against a calibrated NadamW (each run a record under WORKDIR/<method>/"
      "candidate_<i>/<workload>/study_<seed>/trial_0); writes WORKDIR/report/report.md and "
      "calibrated_<method>.json")
  calibrate.add_argument("--workdir", required=True, type=config.non_empty_path)
  calibrate.add_argument("--submissions", default=None,
                         help="comma-separated submission files (default: submissions/lr_free/)")
  calibrate.add_argument("--reference", default=None,
                         help="reference submission (default: submissions/baselines/nadamw_optax.py, the optax-form NadamW)")
  calibrate.add_argument("--workloads", default=None,
                         help="comma-separated workloads (default: the tiny base workloads)")
  calibrate.add_argument("--include_variants", action="store_true",
                         help="also the held-out variants of the default workloads")
  calibrate.add_argument("--candidates", type=config.positive_int, default=4,
                         help="candidates per method, candidate 0 being its literature default")
  calibrate.add_argument("--seeds", type=config.positive_int, default=2)
  calibrate.add_argument("--seed", type=config.seed, default=0, help="base seed of the runs")
  calibrate.add_argument("--spaces_dir", type=Path, default=None,
                         help="folder of <method>.json candidate spaces (default: "
                         "configs/calibration/)")
  calibrate.add_argument("--method", default=None, help="run only this method (file stem)")
  calibrate.add_argument("--candidate", type=config.non_negative_int, default=None,
                         help="run only this candidate")
  calibrate.add_argument("--workload", default=None, help="run only this workload")
  calibrate.add_argument("--seed_index", type=config.non_negative_int, default=None,
                         help="run only this seed (0-based)")
  add_executor_flags(calibrate)
  calibrate.add_argument("--eval_every_steps", type=config.positive_int, default=None)
  calibrate.add_argument("--max_steps", type=config.positive_int, default=None)
  calibrate.add_argument("--data_dir", default=None)
  calibrate.add_argument("--no_progress", action="store_true")

  set_targets = commands.add_parser(
      "set-targets", help="set targets, budgets and step hints AlgoPerf's way: tune several "
      "baselines, re-run each one's best over seeds, derive targets from the best (records "
      "under OUT; OUT/targets.json and OUT/report.md)")
  set_targets.add_argument("--study", type=Path,
                           default=Path("configs/studies/target_setting_tiny.py"),
                           help="study config (baselines, trials, seeds, horizons, variants)")
  set_targets.add_argument("--out", required=True, type=config.non_empty_path)
  set_targets.add_argument("--workload", default=None,
                           help="run only this workload (a base or a variant of the study)")
  set_targets.add_argument("--update_configs", action="store_true",
                           help="also write the targets into configs/tiny_targets.json, "
                           "which the tiny workload configs read")
  set_targets.add_argument("--timing", action="store_true",
                           help="re-run the target-setting algorithm's first seeds (timing_runs "
                           "in the study config) for the budgets; run it alone on an otherwise "
                           "idle machine, after the other phases")
  set_targets.add_argument("--no_progress", action="store_true")
  add_executor_flags(set_targets)

  time_budgets = commands.add_parser(
      "time-budgets", help="time the tiny budgets on this machine's processor: set-targets' "
      "timing runs again, here (records under OUT/<processor>/; OUT/<processor>/budgets.json)")
  time_budgets.add_argument("--targets", type=Path, default=Path("results/target_setting_tiny"),
                            help="the folder set-targets wrote (targets.json and its timing runs)")
  time_budgets.add_argument("--out", type=config.non_empty_path,
                            default=Path("results/budgets_tiny"))
  time_budgets.add_argument("--workloads", default=None,
                            help="a comma-separated subset (default: every timed workload)")
  time_budgets.add_argument("--update_configs", action="store_true",
                            help="file the budgets in --budgets_file, which the tiny configs read "
                            "on a machine with this processor")
  time_budgets.add_argument("--budgets_file", type=Path, default=None,
                            help="where --update_configs files them (default: "
                            "configs/tiny_budgets.json, the file the tiny configs read)")
  add_executor_flags(time_budgets)

  study = commands.add_parser(
      "study", help="run a declarative study (configs/studies/*.py) as one sweep: every "
      "(workload, submission, seed) a run record under WORKDIR/runs/")
  study.add_argument("--study", required=True, type=Path, help="a study config file")
  study.add_argument("--workdir", required=True, type=config.non_empty_path)
  study.add_argument("--seeds", default=None, help="comma-separated (default: the config's)")
  study.add_argument("--workloads", default=None, help="a comma-separated subset")
  study.add_argument("--submissions", default=None, help="a comma-separated subset (names)")
  study.add_argument("--boards", default=None,
                     help="a comma-separated subset of a board study's boards")
  study.add_argument("--studies", type=config.positive_int, default=None,
                     help="a board study: at most this many studies per cell (a first look; "
                     "a later run without it adds the rest)")
  study.add_argument("--max_steps", type=config.positive_int, default=None)
  study.add_argument("--eval_every_steps", type=config.positive_int, default=None)
  study.add_argument("--no_progress", action="store_true")
  add_executor_flags(study)

  run_trial = commands.add_parser(
      "run-trial", help="run one trial spec of a sweep (spec.json, written by the sweep engine); "
      "what the processes, ray and slurm executors start")
  run_trial.add_argument("--spec", type=Path, default=None, help="a spec.json")
  run_trial.add_argument("--sweep", type=Path, default=None,
                         help="a slurm_jobs.json written by --executor=slurm (with --index)")
  run_trial.add_argument("--index", type=config.non_negative_int, default=None,
                         help="the array task to run (SLURM_ARRAY_TASK_ID)")

  demo = commands.add_parser("demo", help="run the bundled baselines on every tiny workload "
                             "(self-tuning, one study), score them and write the report")
  demo.add_argument("--workdir", type=Path, default=Path("runs/demo"))
  demo.add_argument("--workloads", default=None,
                    help="comma-separated workloads (default: every base workload with a tiny size)")
  demo.add_argument("--seed", type=int, default=0)
  demo.add_argument("--clock", choices=CLOCK_CHOICES, default="auto",
                   help="what the submission clock reads: wall time, or process_cpu (this process's CPU time, robust to other load on a shared CPU host; budgets measured for it); auto: process_cpu on a CPU backend where the workload has a measured CPU budget, else wall")
  demo.add_argument("--no_progress", action="store_true")
  add_executor_flags(demo)
  # The demo runs as the tiny budgets were timed: one core per run, side by side.
  demo.set_defaults(executor="processes", workers=_cores_for_demo(), threads_per_worker=1)
  for training in (run, tune, calibrate, demo, set_targets, time_budgets, run_trial, study):
    training.add_argument("--traceback", action="store_true",
                          help="print the full traceback when a run fails (it is always kept "
                          "in the run's result.json)")
  return parser


def _cores_for_demo() -> int:
  import os

  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  return max(1, min(2, cores or 1))


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
  """--executor and its options, on every command (and study script) that runs a sweep."""
  parser.add_argument("--executor", choices=("local", "processes", "ray", "slurm"),
                      default="local",
                      help="where trials run: local (this process, one at a time), processes "
                      "(--workers trials side by side, each an `algoperf-lab run-trial` "
                      "process), ray (each trial a Ray task on a cluster: --ray_address) or "
                      "slurm (writes a job array into the workdir to submit with sbatch; runs "
                      "nothing here)")
  parser.add_argument("--ray_address", default="auto",
                      help="the Ray cluster for --executor=ray: auto (the local one) or HOST:PORT")
  parser.add_argument("--ray_cpus_per_trial", type=config.finite_positive_float, default=1.0)
  parser.add_argument("--ray_gpus_per_trial", type=float, default=0.0,
                      help="GPUs each Ray trial declares (1 for one GPU host per trial)")
  parser.add_argument("--sbatch_option", action="append", default=[],
                      help="an #SBATCH line for --executor=slurm, e.g. "
                      "--sbatch_option=--gres=gpu:1")
  parser.add_argument("--workers", type=config.positive_int, default=2,
                      help="trials at once for --executor=processes")
  parser.add_argument("--threads_per_worker", type=config.positive_int, default=None,
                      help="XLA CPU threads per worker process (default: XLA's own choice)")


def executor_from_args(args: argparse.Namespace) -> Any:
  """The executor the --executor flags name (slurm writes into args.workdir or args.out)."""
  from algoperf_lab.sweeps.executors import LocalExecutor, ProcessesExecutor
  from algoperf_lab.sweeps.slurm import SlurmExecutor

  if args.executor == "processes":
    return ProcessesExecutor(args.workers, args.threads_per_worker)
  if args.executor == "slurm":
    return SlurmExecutor(getattr(args, "workdir", None) or args.out, tuple(args.sbatch_option))
  if args.executor == "ray":
    from algoperf_lab.sweeps.ray_executor import RayExecutor

    return RayExecutor(args.ray_address, args.ray_cpus_per_trial, args.ray_gpus_per_trial)
  return LocalExecutor()


def _rerun_hint() -> str:
  return "algoperf-lab " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _start_jax() -> None:
  """Joins the other processes of a multi-host job (from the environment), if any."""
  from algoperf_lab.parallel import multihost

  multihost.initialize(multihost.config_from_env())


def _warn_of_foreign_budgets(workloads: Sequence[str], size: str = "tiny") -> None:
  """One warning on stderr when a tiny budget here was timed on another processor model:
  after the run's own last line (a refused run's error stays one line)."""
  if size != "tiny":
    return
  from algoperf_lab.processor import processor_model
  from algoperf_lab.sweeps.board_hardware import foreign_budgets_note

  if (note := foreign_budgets_note(workloads, processor_model())) is not None:
    print(note, file=sys.stderr)


def _run(args: argparse.Namespace, overrides: list[str]) -> int:
  if args.cpu_cores is not None:
    from algoperf_lab.cpu_cores import keep_to_cores

    keep_to_cores(args.cpu_cores)  # before JAX starts: XLA sizes its thread pool by affinity
  import jax

  from algoperf_lab import runner, runtime
  from algoperf_lab.harness.loop import RunSettings
  from algoperf_lab.parallel.mesh import MeshConfig

  _start_jax()
  if not args.no_compilation_cache:
    runtime.enable_compilation_cache()
  settings = RunSettings(seed=args.seed, eval_every_steps=args.eval_every_steps,
                         max_steps=args.max_steps, max_runtime_sec=args.max_runtime_sec,
                         data_dir=args.data_dir,
                         progress=not args.no_progress and jax.process_index() == 0,
                         checkpoint_every_sec=None if args.no_checkpoints
                         else args.checkpoint_every_sec,
                         mesh=MeshConfig(data=args.mesh_data, fsdp=args.mesh_fsdp,
                                         expert=args.mesh_expert),
                         sharding=args.sharding, clock=args.clock)
  try:
    result = runner.run(runner.RunRequest(
        workload=args.workload, size=args.size, submission=args.submission, workdir=args.workdir,
        hparams_file=args.hparams, config_overrides=tuple(overrides), settings=settings,
        overwrite=args.overwrite, algoperf_api=args.algoperf_api))
  except Exception as error:
    runner.raise_if_disk_full(error, args.workdir)  # one line, not orbax's tracebacks
    raise
  unit = result.time_unit
  time_to_target = (f"{result.time_to_target_sec:.1f} {unit}"
                    if result.time_to_target_sec is not None else "-")
  if result.status.value == "preempted":
    print(f"preempted at step {result.steps} ({result.stop_reason}); run the same command again "
          f"to resume. Record in {args.workdir}")
    return 0
  if jax.process_index() != 0:
    return 0
  steps_to_target = result.steps_to_target if result.steps_to_target is not None else "-"
  print(f"status={result.status.value} time_to_target={time_to_target} "
        f"steps_to_target={steps_to_target} steps={result.steps} "
        f"submission_time={result.submission_time_sec:.1f} {unit} ({result.clock} clock; "
        f"{result.stop_reason}); "
        f"record in {args.workdir}")
  _warn_of_foreign_budgets([args.workload], args.size)
  return 0


def _tune(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runner, runtime
  from algoperf_lab.harness.loop import RunSettings
  from algoperf_lab.tuning.study import Ruleset, TuneRequest, run_tuning

  _start_jax()
  runtime.enable_compilation_cache()
  try:
    outcomes = run_tuning(TuneRequest(
        workload=args.workload, size=args.size, submission=args.submission, workdir=args.workdir,
        ruleset=Ruleset(args.ruleset), num_studies=args.studies, num_trials=args.trials,
        search_space=args.search_space, seed=args.seed, only_study=args.study,
        only_trial=args.trial, config_overrides=tuple(overrides),
        self_tuning_budget_factor=args.self_tuning_budget_factor,
        settings=RunSettings(eval_every_steps=args.eval_every_steps, max_steps=args.max_steps,
                             data_dir=args.data_dir, progress=not args.no_progress,
                             clock=args.clock)),
        executor=executor_from_args(args), rerun_hint=_rerun_hint())
  except Exception as error:
    runner.raise_if_disk_full(error, args.workdir)
    raise
  reached = sum(o.status == "reached" for o in outcomes)
  print(f"{len(outcomes)} trial(s), {reached} reached the target; records in {args.workdir}; "
        f"score them with `algoperf-lab score {args.workdir} --out={args.workdir}_scores`")
  _warn_of_foreign_budgets([args.workload], args.size)
  return 0


_SKIPPED_SHOWN = 5


def _print_skipped(skipped: Sequence[Any], report_path: Path) -> None:
  """The first few skipped records on stderr, and where the whole list is."""
  for item in skipped[:_SKIPPED_SHOWN]:
    print(f"skipped {item.path}: {item.reason}", file=sys.stderr)
  if len(skipped) > _SKIPPED_SHOWN:
    print(f"... and {len(skipped) - _SKIPPED_SHOWN} more skipped; all are listed in "
          f"{report_path}", file=sys.stderr)


def _score(args: argparse.Namespace) -> int:
  from algoperf_lab.scoring import format_score_table
  from algoperf_lab.scoring.algoperf_report import format_algoperf_table
  from algoperf_lab.scoring.sources import ScoreRequest, score

  outcome = score(ScoreRequest(
      paths=tuple(args.dirs), out_dir=args.out, tau_max=args.tau_max, baseline=args.baseline,
      allow_mixed_hardware=args.allow_mixed_hardware, bootstrap_samples=args.bootstrap_samples,
      allow_incomplete=args.allow_incomplete, group_by_config=args.group_by_config,
      algoperf_version=args.algoperf_version, algoperf_targets=args.algoperf_targets,
      ruleset=args.ruleset, algoperf_rules=args.algoperf_rules,
      progress=not args.no_progress, mtl_reference=args.mtl_reference, clock=args.clock))
  for report, table in ((outcome.lab, format_score_table), (outcome.algoperf,
                                                            format_algoperf_table)):
    if report is None:
      continue
    print(table(report))
    for mtl_score in getattr(report, "mtl", ()):
      print(f"Δm% {mtl_score.submission} on {mtl_score.workload} vs {args.mtl_reference}: "
            f"{mtl_score.delta_m_percent:+.2f}")
    _print_skipped(report.skipped, report.out_dir / "report.md")
    for warning in getattr(report, "warnings", ()):
      print(f"warning: {warning}", file=sys.stderr)
    print(f"report: {report.out_dir / 'report.md'}")
  return 0


def _leaderboard(args: argparse.Namespace) -> int:
  from algoperf_lab.leaderboard import browser
  from algoperf_lab.leaderboard.page import build_site

  if args.screenshots is not None and (missing := browser.missing()) is not None:
    raise config.ConfigError(f"--screenshots: {missing}; leave --screenshots out to build the "
                             "page alone.")
  index = build_site(list(args.dirs), args.out, allow_mixed_hardware=args.allow_mixed_hardware,
                     allow_incomplete=args.allow_incomplete,
                     bootstrap_samples=args.bootstrap_samples, baseline=args.baseline)
  print(f"leaderboard: {index} (open it in a browser; it works from file://)")
  if args.screenshots is not None:
    for shot in browser.screenshot_views(index, args.screenshots):
      print(f"screenshot: {shot}")
  return 0


def _export_algoperf(args: argparse.Namespace) -> int:
  from algoperf_lab.scoring.export import export_algoperf

  result = export_algoperf(args.runs_dir, args.out)
  for skipped in result.skipped:
    print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
  for warning in result.warnings:
    print(f"warning: {warning}", file=sys.stderr)
  print(f"{result.num_trials} run(s) of {', '.join(result.workloads)} written to {result.out_dir}; "
        f"score them with `algoperf-lab score {result.out_dir} "
        f"--algoperf_targets={result.targets_file} --out=...`")
  return 0


def _calibrate(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runner, runtime
  from algoperf_lab.calibration import calibrate as calibration
  from algoperf_lab.calibration.runs import RunFilter
  from algoperf_lab.harness.loop import RunSettings

  _start_jax()
  runtime.enable_compilation_cache()
  split = lambda text: tuple(text.split(",")) if text else ()  # noqa: E731
  request = calibration.CalibrationRequest(
      workdir=args.workdir, submissions=split(args.submissions),
      reference=args.reference or calibration.REFERENCE, workloads=split(args.workloads),
      include_variants=args.include_variants, num_candidates=args.candidates,
      num_seeds=args.seeds, seed=args.seed, config_overrides=tuple(overrides),
      spaces_dir=args.spaces_dir or calibration.candidates_lib.DEFAULT_SPACES_DIR,
      settings=RunSettings(eval_every_steps=args.eval_every_steps, max_steps=args.max_steps,
                           data_dir=args.data_dir, progress=not args.no_progress),
      run_filter=RunFilter(method=args.method, candidate=args.candidate,
                           workload=args.workload, seed_index=args.seed_index))
  try:
    calibration.run_calibration(request, executor=executor_from_args(args),
                                rerun_hint=_rerun_hint())
  except Exception as error:
    runner.raise_if_disk_full(error, args.workdir)
    raise
  return 0


def _set_targets(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runtime
  from algoperf_lab.target_setting import installed, procedure

  if overrides:
    raise SystemExit("`set-targets` takes no --config overrides: the study config says what runs.")
  _start_jax()
  runtime.enable_compilation_cache()
  plan = procedure.plan_from_config(procedure.load_study_config(args.study))
  targets = procedure.run_target_setting(plan, args.out, only_workload=args.workload,
                                         progress=not args.no_progress, timing=args.timing,
                                         executor=executor_from_args(args),
                                         rerun_hint=_rerun_hint())
  print(f"targets for {len(targets['workloads'])} workload(s) in "
        f"{args.out / procedure.TARGETS_FILE}"
        f" ({args.out / procedure.REPORT_FILE})")
  if args.update_configs:
    path, done = installed.install(targets)
    _, waiting = installed.ready_to_install(targets)
    if done:
      print(f"wrote {', '.join(done)} into {path}; the tiny configs read it")
    if waiting:
      print(f"not installed: {', '.join(waiting)} (budgets still from the seed runs): run "
            "`algoperf-lab set-targets --timing --executor=processes --workers=2 "
            "--threads_per_worker=1` on an otherwise idle machine first, then --update_configs")
  return 0


def _time_budgets(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runtime
  from algoperf_lab.target_setting import machine_budgets

  if overrides:
    raise SystemExit("`time-budgets` takes no --config overrides: the timing runs' specs hold them.")
  _start_jax()
  runtime.enable_compilation_cache()
  machine_budgets.time_budgets(
      args.targets, args.out, tuple(args.workloads.split(",")) if args.workloads else None,
      executor_from_args(args), update_configs=args.update_configs,
      budgets_file=args.budgets_file, rerun_hint=_rerun_hint())
  return 0


def _study(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runtime
  from algoperf_lab.sweeps import study_config
  from algoperf_lab.sweeps.engine import run_sweep

  _start_jax()
  runtime.enable_compilation_cache()
  split = lambda text: tuple(text.split(",")) if text else None  # noqa: E731
  settings = {k: v for k, v in (("max_steps", args.max_steps),
                                ("eval_every_steps", args.eval_every_steps)) if v is not None}
  settings["progress"] = not args.no_progress
  if study_config.is_board_study_file(args.study):
    return _board_study(args, overrides, settings)
  if args.boards is not None or args.studies is not None:
    raise config.ConfigError(f"--boards/--studies: {args.study} has no boards (a board study config "
                             "has, e.g. configs/studies/leaderboard_tiny.py).")
  chosen = study_config.load_study_config(args.study)
  specs = study_config.study_specs(
      chosen, args.workdir, seeds=tuple(int(s) for s in args.seeds.split(",")) if args.seeds
      else None, workloads=split(args.workloads), submissions=split(args.submissions),
      extra_overrides=tuple(overrides), settings=settings)
  outcome = run_sweep(specs, executor_from_args(args), rerun_hint=_rerun_hint())
  score = " ".join(["algoperf-lab score", str(args.workdir / "runs"),
                    f"--out={args.workdir / 'report'}", *chosen.score_args])
  print(f"study {chosen.name}: {outcome.finished_line(len(specs))}; records in "
        f"{args.workdir / 'runs'}; score them with `{score}`")
  return 0


def _board_study(args: argparse.Namespace, overrides: list[str],
                 settings: dict[str, Any]) -> int:
  from algoperf_lab.config_files import read_get_config
  from algoperf_lab.processor import processor_model
  from algoperf_lab.sweeps import board_hardware, board_study
  from algoperf_lab.sweeps.engine import run_sweep
  from algoperf_lab.sweeps.study_config import StudyConfigError

  if args.seeds is not None:
    raise config.ConfigError("--seeds: a board study's seeds follow from its studies and seed; "
                             "narrow it with --boards, --workloads or --submissions instead.")
  split = lambda text: tuple(text.split(",")) if text else None  # noqa: E731
  data = read_get_config(args.study, StudyConfigError, "--study",
                         "configs/studies/leaderboard_tiny.py")
  chosen = board_study.load_board_study(args.study, data)
  specs = board_study.board_specs(chosen, args.workdir, boards=split(args.boards),
                                  workloads=split(args.workloads),
                                  submissions=split(args.submissions),
                                  extra_overrides=tuple(overrides), settings=settings,
                                  max_studies=args.studies)
  model = processor_model()
  board_hardware.check_board_folders(
      [board_study.board_dir(args.workdir, b.name) for b in chosen.boards
       if args.boards is None or b.name in split(args.boards)], model, args.workdir)
  if (warning := board_hardware.foreign_budgets_warning(specs, model)) is not None:
    print(warning, file=sys.stderr)
  print(f"study {chosen.name}: {len(specs)} runs; " + (
      "runs may load programs earlier runs compiled (compilation_cache True)"
      if chosen.compilation_cache else "each run compiles from scratch"))
  outcome = run_sweep(specs, executor_from_args(args), rerun_hint=_rerun_hint())
  print(f"study {chosen.name}: {outcome.finished_line(len(specs))}; records in "
        f"{args.workdir}/<board>/. Build each board's page with:")
  for board in chosen.boards:
    if args.boards is None or board.name in split(args.boards):
      print(f"  algoperf-lab leaderboard {board_study.board_dir(args.workdir, board.name)} "
            f"--out={args.workdir / 'site' / board.name}"
            + (f" --baseline={board.baseline}" if board.baseline else ""))
  return 0


def _run_trial(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab.sweeps import spec as spec_lib
  from algoperf_lab.sweeps.worker import run_trial

  from algoperf_lab.cpu_cores import pin_to_assigned_cpus

  if overrides:
    raise SystemExit("`run-trial` takes no --config overrides: the spec holds them.")
  pin_to_assigned_cpus()
  _start_jax()  # the spec says whether the persistent compilation cache is used (worker.py)
  from algoperf_lab.sweeps import slurm

  if (args.spec is None) == (args.sweep is None) or (args.sweep is None) != (args.index is None):
    raise config.ConfigError("run-trial takes --spec=FILE, or --sweep=FILE with --index=I.")
  path = args.spec
  try:
    if args.sweep is not None:
      path = slurm.spec_path_of(args.sweep, args.index)
    spec = spec_lib.read_spec(path)
  except (OSError, ValueError, TypeError, KeyError) as error:
    raise config.ConfigError(
        f"{path or args.sweep}: not a readable trial spec ({error}).") from error
  result = run_trial(spec, report=print)
  return 1 if result.status == "failed" else 0


def _demo(args: argparse.Namespace, overrides: list[str]) -> int:
  from algoperf_lab import runtime
  from algoperf_lab.demo import DemoRequest, DemoStopped, demo_workloads, run_demo

  _start_jax()
  runtime.enable_compilation_cache()
  try:
    run_demo(DemoRequest(workdir=args.workdir, seed=args.seed, config_overrides=tuple(overrides),
                         clock=args.clock,
                         progress=not args.no_progress,
                         workloads=tuple(args.workloads.split(",")) if args.workloads else None,
                         executor=executor_from_args(args), rerun_hint=_rerun_hint()))
  except DemoStopped as stopped:
    print(f"algoperf-lab demo: {stopped}")
  _warn_of_foreign_budgets(args.workloads.split(",") if args.workloads else demo_workloads())
  return 0


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return f"{type(error).__name__}: {text[0] if text else ''}"


_TRAINING_COMMANDS = {"run": _run, "tune": _tune, "calibrate": _calibrate, "demo": _demo,
                      "set-targets": _set_targets, "time-budgets": _time_budgets,
                      "run-trial": _run_trial, "study": _study}


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
    if args.command in _TRAINING_COMMANDS:
      from algoperf_lab.disk_full_logs import quiet_disk_full_logs
      from algoperf_lab.harness.preemption import sigterm_requests_preemption

      quiet_disk_full_logs()  # a full disk is our one line, not orbax's tracebacks

      # SIGTERM is a preemption notice from here on, in every phase: loading, building the
      # optimizer, compiling, restoring, training, and between the runs of tune/calibrate.
      with sigterm_requests_preemption():
        try:
          return _TRAINING_COMMANDS[args.command](args, overrides)
        except KeyboardInterrupt:
          print(f"algoperf-lab {args.command}: interrupted (Ctrl-C); the run is recorded as "
                "interrupted: run the same command again to resume it.", file=sys.stderr)
          return 130
        except _user_errors():
          raise
        except Exception as error:  # a run failed: one line; the record keeps the traceback
          if args.traceback:
            raise
          print(f"algoperf-lab {args.command}: error: {_first_line(error)} (the run is recorded "
                "as failed, with the traceback in its result.json; --traceback prints it)",
                file=sys.stderr)
          return 1
    if args.command == "score":
      if overrides:
        raise SystemExit("`score` takes no --config overrides.")
      return _score(args)
    if args.command == "leaderboard":
      if overrides:
        raise SystemExit("`leaderboard` takes no --config overrides.")
      return _leaderboard(args)
    if args.command == "export-algoperf":
      if overrides:
        raise SystemExit("`export-algoperf` takes no --config overrides.")
      return _export_algoperf(args)
    raise AssertionError(f"unhandled command {args.command!r}")
  except _user_errors() as error:
    print(f"algoperf-lab {args.command}: error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
