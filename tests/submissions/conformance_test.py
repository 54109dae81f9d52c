"""One conformance suite over every bundled submission (what `algoperf-lab list` shows).

Modelled on optax's `optax/contrib/_common_test.py`: each submission has a reference-trajectory
test against its authors' code (tests/reference/, listed by COVERS), builds on every tiny
workload family that accepts its WORKLOAD_OPTIONS (the MoE routing rules: lm_moe only), runs three steps without recompiling after the first, keeps its state's
shapes and dtypes, round-trips a checkpoint bit-exactly mid-run, decreases a toy quadratic,
and its default HPARAMS fit its search space. Adding a submission file adds it here. FSDP on 8
fake devices against 1 device runs in a subprocess and is marked slow (it is tested for the
optax step itself in tests/parallel/harness_parallel_test.py).
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import hyperparameters, listing, loader, registry, spec
from algoperf_lab.harness.checkpoints import RunCheckpointer
from algoperf_lab.parallel.mesh import MeshConfig, make_mesh
from algoperf_lab.tuning import search_space
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES
from tests.workloads.gnn_run_test import SMALL_GNN_RUN_OVERRIDES
from tests.workloads.vit_model_test import SMALL_VIT_OVERRIDES

SUBMISSIONS = [str(p.relative_to(REPO_ROOT)) for p in listing.bundled_submissions()]
SMALL = {
    "lm": SMALL_LM_OVERRIDES,
    "lm_moe": SMALL_LM_OVERRIDES + ("--config.moe.num_experts=4", "--config.moe.expert_mlp_dim=16"),
    "vit": SMALL_VIT_OVERRIDES + ("--config.batch_size=16",),
    "gnn": SMALL_GNN_RUN_OVERRIDES,
}


def _multi_task(path: str) -> bool:
  """A submission declaring MULTI_TASK refuses single-task workloads: it is checked on gnn."""
  return bool(getattr(loader.load_submission(str(REPO_ROOT / path)).module, "MULTI_TASK", False))


def _hparams(submission: spec.Submission) -> Any:
  return hyperparameters.make_hyperparameters(submission.default_hparams, {}, submission.source)


def _workload_options(path: str) -> dict[str, Any]:
  submission = loader.load_submission(str(REPO_ROOT / path))
  return submission.resolve_workload_options(_hparams(submission))


@functools.cache
def _accepted_options(workload_name: str) -> frozenset[str]:
  return frozenset(registry.make_workload(workload_name, "tiny", SMALL[workload_name]).accepted_options)


def _targets(path: str) -> list[str]:
  """The workload families a submission runs on: those accepting its WORKLOAD_OPTIONS (an
  MoE routing rule runs on lm_moe only; the others refuse it by name)."""
  options = set(_workload_options(path))
  accepting = [name for name in sorted(SMALL) if options <= _accepted_options(name)]
  if _multi_task(path):
    return ["gnn", *[name for name in accepting if name not in ("gnn", "lm", "lm_moe")]]
  return sorted(accepting, key=lambda name: name != "lm")  # lm first where it accepts


@functools.cache
def _configured_workload(workload_name: str, overrides: tuple[str, ...],
                         options: tuple[tuple[str, Any], ...]) -> tuple[spec.Workload, Any]:
  """One workload per (family, overrides, options) with its initial (params, model_state),
  shared by the submissions that use it: initialising compiles, and it is the same for all."""
  workload = registry.make_workload(workload_name, "tiny", overrides)
  if options:
    workload.configure_options(dict(options))
  return workload, workload.init_model_fn(jax.random.PRNGKey(0))


def _copy(tree: Any) -> Any:
  """Fresh buffers: the lab's step donates its state, which would delete the shared ones."""
  return jax.tree.map(lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x, tree)


class _Trainer:
  """A submission's own functions driven step by step, as the harness drives them."""

  def __init__(self, path: str, workload_name: str, overrides: tuple[str, ...]):
    self.submission = loader.load_submission(str(REPO_ROOT / path))
    self.hparams = _hparams(self.submission)
    options = self.submission.resolve_workload_options(self.hparams)
    if self.submission.form is spec.SubmissionForm.ALGOPERF and not self.hparams._fields:
      self.hparams = None
    if self.submission.use_mesh is not None:
      self.submission.use_mesh(make_mesh(MeshConfig()), "replicated")
    self.workload, initial = _configured_workload(workload_name, overrides,
                                                  tuple(sorted(options.items())))
    if self.submission.init_model is not None:
      self.params, self.model_state = self.submission.init_model(self.workload,
                                                                 jax.random.PRNGKey(0))
    else:
      self.params, self.model_state = _copy(initial)
    self.opt_state = self.submission.init_optimizer_state(
        workload=self.workload, model_params=self.params, model_state=self.model_state,
        hyperparameters=self.hparams, rng=jax.random.PRNGKey(1))
    batch_size = self.workload.default_batch_size
    self.queue = self.workload.build_input_queue(jax.random.PRNGKey(2), "train", None, batch_size)
    self.step = 0

  def train(self, steps: int) -> None:
    for _ in range(steps):
      batch = self.submission.data_selection(
          workload=self.workload, input_queue=self.queue, optimizer_state=self.opt_state,
          current_param_container=self.params, model_state=self.model_state,
          hyperparameters=self.hparams, global_step=self.step, rng=jax.random.PRNGKey(self.step))
      self.opt_state, self.params, self.model_state = self.submission.update_params(
          workload=self.workload, current_param_container=self.params,
          current_params_types=self.workload.model_params_types, model_state=self.model_state,
          hyperparameters=self.hparams, batch=batch, loss_type=self.workload.loss_type,
          optimizer_state=self.opt_state, eval_results=[], global_step=self.step,
          rng=jax.random.PRNGKey(100 + self.step))
      self.step += 1
    jax.block_until_ready(jax.tree.leaves(self.params))


def _array_signature(tree: Any) -> list[tuple[str, tuple[int, ...], str]]:
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return [(jax.tree_util.keystr(path), tuple(leaf.shape), str(leaf.dtype)) for path, leaf in leaves
          if isinstance(leaf, (jax.Array, np.ndarray))]


def _array_leaves(tree: Any) -> list[Any]:
  return [leaf for leaf in jax.tree.leaves(tree) if isinstance(leaf, jax.Array)]


@pytest.mark.parametrize("path", SUBMISSIONS)
def test_it_is_listed_with_a_one_line_description(path, capsys):
  submission = loader.load_submission(str(REPO_ROOT / path))
  first_line = (submission.module.__doc__ or "").strip().splitlines()
  assert first_line and first_line[0].strip(), f"{path} has no module docstring"
  from algoperf_lab import cli

  assert cli.main(["list"]) == 0
  listed = [line for line in capsys.readouterr().out.splitlines() if path in line]
  assert listed and first_line[0].strip()[:40] in listed[0]


@functools.cache
def _reference_tests() -> dict[str, list[str]]:
  from tests.reference import common

  return common.covered_submissions()


@pytest.mark.parametrize("path", SUBMISSIONS)
def test_it_has_a_reference_trajectory_test_against_its_authors_code(path):
  """A bundled algorithm is not done until a tests/reference/ module lists it in COVERS (a
  port of its authors' code run beside it for 20+ float64 steps; DESIGN.md, Algorithm fidelity)."""
  assert path in _reference_tests(), (
      f"{path} has no reference-trajectory test: add tests/reference/<name>_test.py with a port "
      f"of its authors' code (repository, file, commit) and list {path!r} in its COVERS.")


def test_every_reference_test_covers_a_bundled_submission():
  stale = sorted(set(_reference_tests()) - set(SUBMISSIONS))
  assert not stale, f"COVERS names files that are not bundled submissions: {stale}"


@pytest.mark.parametrize("path", SUBMISSIONS)
def test_default_hparams_fit_its_search_space(path):
  submission = loader.load_submission(str(REPO_ROOT / path))
  space_path = REPO_ROOT / "configs" / "search_spaces" / f"{Path(path).stem}.json"
  assert space_path.is_file(), f"{path} has no search space at {space_path}"
  space = search_space.load_search_space(space_path)
  assert isinstance(space, search_space.SearchSpace)
  defaults = submission.default_hparams or {}
  for param in space.params:
    if param.name in submission.optional_hparams and param.name not in defaults:
      continue  # read when given (e.g. label_smoothing), with no default of its own
    assert param.name in defaults, f"{param.name} is searched but has no default in HPARAMS"
    value = defaults[param.name]
    if isinstance(param, search_space.RangeParam):
      assert param.min <= value <= param.max, f"{param.name}={value} outside [{param.min}, {param.max}]"
    else:
      assert value in param.feasible_points, f"{param.name}={value} not among {param.feasible_points}"


def _workload_cases() -> list[Any]:
  """Its first target (lm for most, gnn for multi-task, lm_moe for the MoE routing rules) for
  every submission by default; the other targets for the AdamW baseline by default and for
  every submission in the slow set (each case compiles a step: seconds, not milliseconds)."""
  fast_everywhere = {"submissions/baselines/adamw.py"}
  cases = []
  for path in SUBMISSIONS:
    targets = _targets(path)
    fast = targets[0]
    for workload_name in sorted(SMALL):
      if workload_name not in targets:
        continue
      marks = () if workload_name == fast or path in fast_everywhere else (pytest.mark.slow,)
      cases.append(pytest.param(path, workload_name, marks=marks, id=f"{workload_name}-{path}"))
  return cases


def _checkpoint_round_trip(trainer: _Trainer, directory: Path) -> None:
  arrays = (trainer.params, _array_leaves(trainer.opt_state))
  checkpointer = RunCheckpointer(directory)
  checkpointer.save(trainer.step, arrays, {"step": trainer.step})
  checkpointer.close()
  restored = RunCheckpointer(directory).latest_restorable(arrays)
  assert restored is not None and restored.step == trainer.step
  for saved, loaded in zip(jax.tree.leaves(arrays), jax.tree.leaves(restored.arrays)):
    np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))


@pytest.mark.parametrize("path", [p for p in SUBMISSIONS if _workload_options(p)])
def test_workloads_without_its_options_refuse_it_by_name(path):
  options = _workload_options(path)
  with pytest.raises(spec.WorkloadOptionError, match=r"does not accept the option\(s\)"):
    _Trainer(path, "lm", SMALL["lm"])
  assert "lm_moe" in _targets(path), f"no workload accepts {sorted(options)}"


@pytest.mark.parametrize("path, workload_name", _workload_cases())
def test_three_steps_compile_once_keep_state_and_checkpoint_exactly(path, workload_name,
                                                                     tmp_path):
  trainer = _Trainer(path, workload_name, SMALL[workload_name])
  trainer.train(1)
  signature = _array_signature((trainer.params, trainer.opt_state))
  adapter = getattr(trainer.submission.init_optimizer_state, "__self__", None)
  compiled_after_first = adapter.train_step._cache_size() if adapter is not None else None
  trainer.train(1)
  _checkpoint_round_trip(trainer, tmp_path / "checkpoints")  # mid-run, bit-exact
  trainer.train(1)
  assert _array_signature((trainer.params, trainer.opt_state)) == signature
  assert all(bool(jnp.isfinite(x).all()) for x in _array_leaves(trainer.params))
  if adapter is not None:  # optax form: the lab's one step must not recompile
    assert adapter.train_step._cache_size() == compiled_after_first == 1


class _Quadratic:
  """A workload-shaped stand-in for `make_optimizer`: step_hint and parameter types."""

  name = "quadratic"
  step_hint = 200
  num_tasks = 1

  def __init__(self, params: Any):
    self.param_shapes = jax.tree.map(lambda x: spec.ShapeTuple(x.shape), params)
    self.model_params_types = jax.tree.map(
        lambda x: spec.ParameterType.WEIGHT if x.ndim == 2 else spec.ParameterType.BIAS, params)

  def is_output_params(self, param_key: str) -> bool:
    del param_key
    return False


@pytest.mark.parametrize("path", SUBMISSIONS)
def test_it_decreases_a_toy_quadratic(path):
  submission = loader.load_submission(str(REPO_ROOT / path))
  if submission.form is not spec.SubmissionForm.OPTAX:
    pytest.skip("AlgoPerf-form submissions build their own step around a workload")
  params = {"w": jnp.full((4, 4), 2.0), "b": jnp.full((4,), -1.5)}
  target = {"w": jnp.eye(4), "b": jnp.zeros(4)}

  def task_losses(p: Any) -> jax.Array:  # two tasks: w's error and b's
    return jnp.stack([jnp.sum((p[k] - target[k]) ** 2) for k in ("w", "b")])

  def loss(p: Any) -> jax.Array:
    return task_losses(p).sum()

  workload = _Quadratic(params)
  task_extras = {}
  if _multi_task(path):  # the task extras a multi-task workload's step passes
    workload.num_tasks = 2
    task_extras = {"task_grads_fn": jax.jacrev(task_losses), "task_value_fn": task_losses}
  optimizer = optax.with_extra_args_support(
      submission.module.make_optimizer(_hparams(submission), workload))
  opt_state = optimizer.init(params)

  @jax.jit
  def step(p: Any, s: Any) -> tuple[Any, Any]:
    value, grads = jax.value_and_grad(loss)(p)
    extras = {**task_extras, "task_values": task_losses(p)} if task_extras else {}
    updates, s = optimizer.update(grads, s, p, value=value, value_fn=loss, obj_fn=loss,
                                  grad_fn=lambda q, i=None: jax.grad(loss)(q), **extras)
    return optax.apply_updates(p, updates), s

  start = float(loss(params))
  for _ in range(_Quadratic.step_hint):  # one whole schedule
    params, opt_state = step(params, opt_state)
  final = float(loss(params))
  assert math.isfinite(final) and final < 0.9 * start


@pytest.mark.slow
@pytest.mark.parametrize("path", SUBMISSIONS)
def test_fsdp_on_eight_devices_equals_one_device(path, tmp_path):
  if loader.load_submission(str(REPO_ROOT / path)).form is not spec.SubmissionForm.OPTAX:
    pytest.skip("AlgoPerf-form submissions are data parallel by AlgoPerf's rules")
  cli = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")
  workload = _targets(path)[0]
  small = SMALL[workload]

  def losses(devices: int, *extra: str) -> list[float]:
    workdir = tmp_path / f"d{devices}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    done = subprocess.run([cli, "run", f"--workload={workload}", f"--submission={path}",
                           f"--workdir={workdir}", "--max_steps=4", "--eval_every_steps=2",
                           "--no_progress", "--no_checkpoints", *small, *extra],
                          env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [line["validation/loss"] for line in lines]

  # Stated tolerance: a relative 1e-4 (float32 reductions split over 8 devices).
  assert losses(8, "--sharding=fsdp", "--mesh_fsdp=8") == pytest.approx(losses(1), rel=1e-4)
