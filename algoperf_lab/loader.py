"""Loads a submission module (file path or dotted name) and checks it against its contract.

Two forms: the AlgoPerf API (`get_batch_size`, `init_optimizer_state`, `update_params`,
`data_selection`, optional `prepare_for_eval`) or the optax form (`make_optimizer(hparams,
workload)`, optional `get_batch_size`, `eval_params`). Both come out as a `Submission` with the
AlgoPerf functions, which is all the harness sees. Problems are reported at load time, naming
the missing piece and the expected signature.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import jax

from algoperf_lab import submission_imports
from algoperf_lab.spec import AlgoperfApi, Submission, SubmissionForm

__all__ = ["AlgoperfApi", "Submission", "SubmissionError", "SubmissionForm", "load_submission"]

ALGOPERF_REQUIRED: dict[str, tuple[str, ...]] = {
    "get_batch_size": ("workload_name",),
    "init_optimizer_state": ("workload", "model_params", "model_state", "hyperparameters", "rng"),
    "update_params": ("workload", "current_param_container", "current_params_types",
                      "model_state", "hyperparameters", "batch", "loss_type", "optimizer_state",
                      "eval_results", "global_step", "rng"),
    "data_selection": ("workload", "input_queue", "optimizer_state", "current_param_container",
                       "model_state", "hyperparameters", "global_step", "rng"),
}
PREPARE_FOR_EVAL_ARGS = ("workload", "current_param_container", "current_params_types",
                         "model_state", "hyperparameters", "loss_type", "optimizer_state",
                         "eval_results", "global_step", "rng")
OPTAX_REQUIRED: dict[str, tuple[str, ...]] = {"make_optimizer": ("hparams", "workload")}
OPTAX_OPTIONAL: dict[str, tuple[str, ...]] = {"get_batch_size": ("workload_name",),
                                              "eval_params": ("opt_state", "params"),
                                              "train_metrics": ("opt_state", "params")}


class SubmissionError(ValueError):
  """A submission cannot be loaded or does not meet its contract."""


def _signature_text(name: str, args: tuple[str, ...]) -> str:
  return f"{name}({', '.join(args)})"


def check_signature(module_name: str, function_name: str, function: Any,
                    expected: tuple[str, ...]) -> None:
  """Raises SubmissionError unless `function` accepts exactly `expected` as keyword arguments."""
  if not callable(function):
    raise SubmissionError(f"{module_name}.{function_name} is not a function; expected "
                          f"{_signature_text(function_name, expected)}.")
  parameters = inspect.signature(function).parameters
  takes_var_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
  named = {n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
  missing = [n for n in expected if n not in named and not takes_var_keyword]
  extra_required = [n for n, p in parameters.items()
                    if n not in expected and p.default is p.empty
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
  if missing or extra_required:
    problems = []
    if missing:
      problems.append(f"it lacks argument(s) {missing}")
    if extra_required:
      problems.append(f"it requires unexpected argument(s) {extra_required}")
    raise SubmissionError(
        f"{module_name}.{function_name}{inspect.signature(function)} has the wrong signature: "
        f"{'; '.join(problems)}. Expected {_signature_text(function_name, expected)}.")


def _accepts(function: Callable[..., Any], argument: str) -> bool:
  parameters = inspect.signature(function).parameters
  return argument in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def import_submission_module(source: str) -> ModuleType:
  """Imports a submission from a `.py` path (as a member of its folder's package) or a dotted
  module name; AlgoPerf's package names resolve to the lab's (see submission_imports)."""
  path = Path(source)
  submission_imports.install_algoperf_stand_ins()
  if source.endswith(".py") or path.exists():
    if path.is_dir():
      raise SubmissionError(f"{source} is a folder; --submission takes the submission's .py "
                            f"file (e.g. {Path(source) / 'submission.py'}) or a dotted module.")
    if not path.is_file():
      raise SubmissionError(f"submission file {source} does not exist.")
    try:
      return submission_imports.import_file_as_package_member(path)
    except Exception as error:
      raise SubmissionError(f"importing submission {source} failed: "
                            f"{type(error).__name__}: {error}") from error
  try:
    return importlib.import_module(source)
  except Exception as error:
    raise SubmissionError(f"importing submission module {source!r} failed: "
                          f"{type(error).__name__}: {error}. Pass a .py path or an importable "
                          "dotted module name.") from error


_PMAP_MARKERS = re.compile(r"\bpmap\b")


def detect_algoperf_api(module: ModuleType) -> AlgoperfApi:
  """PMAP for AlgoPerf v0.5-style files (jax.pmap steps, replicated state), else JIT."""
  try:
    source = inspect.getsource(module)
  except (OSError, TypeError):
    return AlgoperfApi.JIT
  return AlgoperfApi.PMAP if _PMAP_MARKERS.search(source) else AlgoperfApi.JIT


def detect_form(module: ModuleType, source: str) -> SubmissionForm:
  has_optax = hasattr(module, "make_optimizer")
  algoperf_present = [n for n in ALGOPERF_REQUIRED if n != "get_batch_size" and hasattr(module, n)]
  if has_optax and algoperf_present:
    raise SubmissionError(
        f"{source} defines make_optimizer (optax form) and {algoperf_present} (AlgoPerf form); "
        "a submission uses one form. Remove one of them.")
  if has_optax:
    return SubmissionForm.OPTAX
  if algoperf_present:
    return SubmissionForm.ALGOPERF
  required = ", ".join(_signature_text(n, a) for n, a in ALGOPERF_REQUIRED.items())
  raise SubmissionError(
      f"{source} is not a submission: define either the optax form "
      f"make_optimizer(hparams, workload) -> optax.GradientTransformation, or the AlgoPerf form "
      f"{required} (and optionally prepare_for_eval).")


def _default_hparams(module: ModuleType, source: str) -> Mapping[str, Any] | None:
  hparams = getattr(module, "HPARAMS", None)
  if hparams is not None and not isinstance(hparams, Mapping):
    raise SubmissionError(f"{source}: HPARAMS must be a dict of hyperparameter values, "
                          f"got {type(hparams).__name__}.")
  return hparams


# AlgoPerf names every file submission.py, sometimes under a framework folder:
# submissions/self_tuning/<name>/submission.py or .../<name>/jax/submission.py.
_GENERIC_FILE_STEMS = frozenset({"submission"})
_FRAMEWORK_FOLDERS = frozenset({"jax", "pytorch", "torch"})


def submission_name(source: str) -> str:
  """The name records and reports use: the file's stem, or for AlgoPerf's `submission.py` the
  folder that names it (skipping a `jax`/`pytorch` folder), so two of them never collide."""
  if not source.endswith(".py"):
    return source.rsplit(".", 1)[-1]
  path = Path(source)
  if path.stem not in _GENERIC_FILE_STEMS:
    return path.stem
  folders = [part for part in reversed(path.resolve().parent.parts)
             if part not in _FRAMEWORK_FOLDERS]
  return folders[0] if folders and folders[0] != "/" else path.stem


def load_submission(source: str, algoperf_api: AlgoperfApi | str | None = None) -> Submission:
  """Imports and validates a submission; raises SubmissionError with the fix on any problem.

  `algoperf_api` forces the API generation of an AlgoPerf-form submission (detected otherwise).
  """
  module = import_submission_module(source)
  form = detect_form(module, source)
  name = submission_name(source)
  if form is SubmissionForm.OPTAX:
    return _load_optax_form(module, source, name)
  missing = [n for n in ALGOPERF_REQUIRED if not hasattr(module, n)]
  if missing:
    expected = "; ".join(_signature_text(n, ALGOPERF_REQUIRED[n]) for n in missing)
    raise SubmissionError(f"{source} (AlgoPerf form) is missing {missing}. Expected: {expected}.")
  for function_name, arguments in ALGOPERF_REQUIRED.items():
    check_signature(source, function_name, getattr(module, function_name), arguments)
  prepare_for_eval = getattr(module, "prepare_for_eval", None)
  if prepare_for_eval is not None:
    check_signature(source, "prepare_for_eval", prepare_for_eval, PREPARE_FOR_EVAL_ARGS)
  return Submission(
      name=name, source=source, form=form, module=module,
      default_hparams=_default_hparams(module, source),
      optional_hparams=frozenset(getattr(module, "OPTIONAL_HPARAMS", ())),
      get_batch_size=module.get_batch_size,
      init_optimizer_state=module.init_optimizer_state,
      update_params=module.update_params,
      data_selection=module.data_selection,
      prepare_for_eval=prepare_for_eval,
      update_params_takes_train_state=_accepts(module.update_params, "train_state"),
      algoperf_api=_algoperf_api(module, source, algoperf_api),
      workload_options=getattr(module, "WORKLOAD_OPTIONS", None))


def _algoperf_api(module: ModuleType, source: str,
                  forced: AlgoperfApi | str | None) -> AlgoperfApi:
  if forced is None or forced == "auto":
    return detect_algoperf_api(module)
  try:
    return AlgoperfApi(forced)
  except ValueError:
    raise SubmissionError(f"--algoperf_api={forced!r} is unknown for {source}; choose "
                          f"{[a.value for a in AlgoperfApi]} (or leave it out to detect it).") from None


def _load_optax_form(module: ModuleType, source: str, name: str) -> Submission:
  from algoperf_lab.harness import optax_form  # the jitted step lives with the harness

  check_signature(source, "make_optimizer", module.make_optimizer, OPTAX_REQUIRED["make_optimizer"])
  for function_name, arguments in OPTAX_OPTIONAL.items():
    if hasattr(module, function_name):
      check_signature(source, function_name, getattr(module, function_name), arguments)
  adapter = optax_form.OptaxFormAdapter(module.make_optimizer,
                                        getattr(module, "train_metrics", None))
  eval_params = getattr(module, "eval_params", None)
  return Submission(
      name=name, source=source, form=SubmissionForm.OPTAX, module=module,
      default_hparams=_default_hparams(module, source),
      optional_hparams=frozenset(getattr(module, "OPTIONAL_HPARAMS", ())) | optax_form.HARNESS_HPARAMS,
      get_batch_size=getattr(module, "get_batch_size", adapter.get_batch_size),
      init_optimizer_state=adapter.init_optimizer_state,
      update_params=adapter.update_params,
      data_selection=adapter.data_selection,
      prepare_for_eval=None,
      # Jitted once here; the harness counts its time as submission time (as prepare_for_eval).
      eval_params=jax.jit(eval_params) if eval_params is not None else None,
      latest_train_metrics=adapter.latest_train_metrics,
      use_mesh=adapter.use_mesh, init_model=adapter.init_model,
      workload_options=getattr(module, "WORKLOAD_OPTIONS", None))
