"""Muon (submissions/matrix/muon.py) against the authors' Muon with its auxiliary Adam.

Reference: KellerJordan/Muon muon.py, commit 857d1ad (tests/reference/ports/muon.py):
`SingleDeviceMuonWithAuxAdam` with `muon_update` / `zeropower_via_newtonschulz5` on the hidden
matrices and `adam_update` on the rest. The authors' weights are PyTorch's (out, in); the
lab's flax kernels are (in, out) and the attention query kernel (embed, heads, head_dim), so
the reference sees the hidden weight transposed and the query kernel as the (heads·head_dim ×
embed) matrix it is. Newton-Schulz runs in float64 on both sides (the authors use bfloat16 on
the GPU). The module's own HPARAMS on the baselines toy (an embedding, a hidden weight, a 3-D
query kernel, a bias and the output layer, typed as param_labels reads them), step_hint 40
(2 warmup steps, the whole cosine decay); each group gets the lab's learning rate of the step.
Before the fix (optax.contrib.muon: debiased Nesterov momentum, ε 1e-8, NAdamW on the rest):
max relative iterate difference 1.6e-3 over 40 steps.
Measured 2026-12-05 after: 6.7e-16 over 40 steps.
"""

from __future__ import annotations

import numpy as np

from submissions.lib import param_labels
from submissions.lib.schedules.cosine import warmup_cosine
from tests.reference.common import (ToyWorkload, assert_trajectories_match, float64,
                                    lab_hparams, lab_optimizer, run_lab, submission_module)
from tests.reference.ports import baselines_problem as problem
from tests.reference.ports.muon import SingleDeviceMuonWithAuxAdam

COVERS = ["submissions/matrix/muon.py"]
STEPS = 40
RTOL = 1e-12  # float64 rounding only
MATRICES = ("hidden", "query")


def _to_torch(params: dict) -> dict:
  """The lab's (in, out) kernels as PyTorch's (out, in) weights."""
  torch = dict(params)
  torch["hidden"] = params["hidden"].T
  torch["query"] = params["query"].reshape(params["query"].shape[0], -1).T
  return torch


def _from_torch(torch: dict, like: dict) -> dict:
  params = dict(torch)
  params["hidden"] = torch["hidden"].T
  params["query"] = torch["query"].T.reshape(like["query"].shape)
  return params


def trajectories() -> tuple[list, list]:
  module = submission_module(COVERS[0])
  with float64():
    workload = ToyWorkload(params=problem.initial_params(), step_hint=STEPS,
                           param_types=problem.PARAM_TYPES, output_key=problem.OUTPUT_KEY)
    hparams = lab_hparams(module)
    lab = run_lab(lab_optimizer(module, workload), workload.params, problem.loss, STEPS)

    def schedule(peak: float):
      return warmup_cosine(peak, workload.step_hint, hparams.warmup_factor)

    muon_lr, adam_lr = schedule(hparams.learning_rate), schedule(hparams.adam_learning_rate)
    reference_optimizer = SingleDeviceMuonWithAuxAdam([
        dict(params=list(MATRICES), use_muon=True, momentum=hparams.beta,
             weight_decay=hparams.weight_decay),
        dict(params=[k for k in workload.params if k not in MATRICES], use_muon=False,
             betas=(hparams.adam_b1, hparams.adam_b2), eps=1e-8,
             weight_decay=hparams.adam_weight_decay)])
    like = problem.initial_params()

    def step(t: int, params: dict, grads: dict) -> dict:
      torch = reference_optimizer.step(_to_torch(params), _to_torch(grads),
                                       [float(muon_lr(t)), float(adam_lr(t))])
      return _from_torch(torch, like)

    reference = problem.run_reference(step, STEPS)
  return lab.iterates, reference


def test_muon_follows_the_authors_muon_with_aux_adam():
  assert_trajectories_match(*trajectories(), RTOL)


def test_the_toy_routes_what_the_authors_route():
  workload = ToyWorkload(params=problem.initial_params(), param_types=problem.PARAM_TYPES,
                         output_key=problem.OUTPUT_KEY)
  routes = param_labels.workload_hidden_matrices(workload)
  assert sorted(k for k, dims in routes.items() if dims is not None) == sorted(MATRICES)
  assert np.ndim(workload.params["head"]) == 2  # a 2-D output layer still goes to AdamW
