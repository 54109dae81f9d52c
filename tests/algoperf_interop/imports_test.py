"""Submission files import as AlgoPerf's runner imports them, with no edit."""

from __future__ import annotations

import importlib
import sys

import jax
import pytest

from algoperf_lab import jax_sharding_utils, loader, spec
from algoperf_lab.spec import AlgoperfApi, SubmissionForm
from tests.algoperf_interop import files


@pytest.mark.parametrize("name", sorted({**files.JIT_FILES, **files.PMAP_FILES}))
def test_algoperfs_own_jax_files_load_unchanged(name):
  path = {**files.JIT_FILES, **files.PMAP_FILES}[name]
  submission = loader.load_submission(str(path))
  assert submission.form is SubmissionForm.ALGOPERF
  expected = AlgoperfApi.PMAP if name in files.PMAP_FILES else AlgoperfApi.JIT
  assert submission.algoperf_api is expected


def test_algoperfs_absolute_helper_import_resolves_to_the_file_beside_it():
  # `from algorithms.archived_paper_baselines.shampoo.jax.distributed_shampoo import ...`
  submission = loader.load_submission(str(files.PMAP_IN_AXES_BUG["archived_shampoo"]))
  helper = sys.modules["algorithms.archived_paper_baselines.shampoo.jax.distributed_shampoo"]
  assert helper.__file__ == str(files.PMAP_IN_AXES_BUG["archived_shampoo"].parent /
                                "distributed_shampoo.py")
  assert submission.module.distributed_shampoo is helper.distributed_shampoo


def test_a_leaderboard_helper_under_a_path_that_exists_nowhere_resolves():
  # caspr_adaptive: `from submissions.submissions_algorithms_v0_5.AlgoPerf_Team_16....`
  submission = loader.load_submission(str(files.PMAP_FILES["v05_caspr_adaptive"]))
  helper_name = [n for n in sys.modules if n.endswith("caspr_adaptive.caspr_adaptive_helper")
                 and n.startswith("submissions.")]
  assert helper_name, "the absolute helper import was not aliased"
  assert sys.modules[helper_name[0]].__file__.endswith("caspr_adaptive/caspr_adaptive_helper.py")
  assert submission.algoperf_api is AlgoperfApi.PMAP


def _write_package(folder, submission_import: str) -> str:
  folder.mkdir()
  (folder / "helper.py").write_text("VALUE = 41\n")
  (folder / "submission.py").write_text(
      f"{submission_import}\n"
      "import jax\n"
      "def get_batch_size(workload_name):\n  return 8\n"
      "def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):\n"
      "  return {}\n"
      "def update_params(workload, current_param_container, current_params_types, model_state,"
      " hyperparameters, batch, loss_type, optimizer_state, eval_results, global_step, rng):\n"
      "  return optimizer_state, current_param_container, model_state\n"
      "def data_selection(workload, input_queue, optimizer_state, current_param_container,"
      " model_state, hyperparameters, global_step, rng):\n  return next(input_queue)\n"
      "TREE_MAP = jax.tree_map\n")
  return str(folder / "submission.py")


@pytest.mark.parametrize("statement", ["from helper import VALUE", "from .helper import VALUE"])
def test_modules_beside_a_submission_import_plainly_and_relatively(tmp_path, statement):
  submission = loader.load_submission(_write_package(tmp_path / "mine", statement))
  assert submission.module.VALUE == 41


def test_removed_jax_names_are_seen_by_submissions_only(tmp_path):
  submission = loader.load_submission(_write_package(tmp_path / "old", "from helper import VALUE"))
  assert submission.module.TREE_MAP is jax.tree.map
  assert not hasattr(jax, "tree_map")  # JAX itself is left as it is


def test_algoperf_package_names_resolve_to_the_lab_when_algoperf_is_absent():
  loader.load_submission(str(files.JIT_FILES["current_nadamw"]))
  assert importlib.util.find_spec("algoperf").origin is None  # the lab's stand-in
  from algoperf import jax_sharding_utils as algoperf_sharding
  from algoperf import spec as algoperf_spec
  from algorithmic_efficiency import spec as v05_spec

  assert algoperf_spec is spec and v05_spec is spec
  assert algoperf_sharding is jax_sharding_utils
  with pytest.raises(ModuleNotFoundError, match="stands in for AlgoPerf's"):
    importlib.import_module("algoperf.pytorch_utils")


def test_a_broken_third_party_file_is_one_clear_error():
  with pytest.raises(loader.SubmissionError, match=r"SyntaxError: invalid syntax \(submission.py, line 468\)"):
    loader.load_submission(str(files.BROKEN_FILES["v05_nadamw_sequential"]))


def test_the_api_generation_can_be_forced_and_a_bad_one_is_refused():
  path = str(files.JIT_FILES["current_nadamw"])
  assert loader.load_submission(path, "pmap").algoperf_api is AlgoperfApi.PMAP
  with pytest.raises(loader.SubmissionError, match="--algoperf_api='pjit' is unknown"):
    loader.load_submission(path, "pjit")
