"""The float64 toy the baseline and Muon reference tests run on: a tiny two-layer regression.

tokens t_n ∈ {0..5} (16 of them) → e_n = E[t_n] (embedding, [6, 4]);
h_n = tanh(e_n W + b) (hidden matrix W [4, 8], bias b [8]);
q_n = e_n · Q (attention-style query kernel Q [4, 2, 3], flattened to 6) ;
ŷ_n = h_n H + q_n P (output layer H [8, 3], fixed P [6, 3]);
loss = ½ mean_n ‖ŷ_n − y_n‖², targets from a planted parameter set plus noise.
Every leaf kind Muon routes is here: an embedding, a hidden 2-D weight, a 3-D attention
kernel, a bias and the output layer. The loss is JAX (for the lab's optimizer); the ports get
its gradient through `gradient` (jax.grad in float64), so both sides see the same oracle.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_lab import spec

Params = dict[str, np.ndarray]

PARAM_TYPES = {"embed": spec.ParameterType.EMBEDDING, "hidden": spec.ParameterType.WEIGHT,
               "query": spec.ParameterType.ATTENTION_Q, "bias": spec.ParameterType.BIAS,
               "head": spec.ParameterType.WEIGHT}
OUTPUT_KEY = "head"

_rng = np.random.default_rng(18)
_TOKENS = _rng.integers(0, 6, size=16)
_PROJECTION = _rng.normal(size=(6, 3)) / np.sqrt(6)


def _draw(rng: np.random.Generator, scale: float) -> Params:
  return {"embed": scale * rng.normal(size=(6, 4)), "hidden": scale * rng.normal(size=(4, 8)),
          "query": scale * rng.normal(size=(4, 2, 3)), "bias": scale * rng.normal(size=(8,)),
          "head": scale * rng.normal(size=(8, 3))}


def _predict(p: Any) -> Any:
  e = p["embed"][_TOKENS]
  h = jnp.tanh(e @ p["hidden"] + p["bias"][None, :])
  q = jnp.einsum("ne,ehd->nhd", e, p["query"]).reshape(len(_TOKENS), 6)
  return h @ p["head"] + q @ _PROJECTION


_TARGETS = np.asarray(jax.device_get(_predict(_draw(np.random.default_rng(1), 1.0))))
_TARGETS = _TARGETS + 0.1 * _rng.normal(size=_TARGETS.shape)


def initial_params() -> Params:
  return _draw(np.random.default_rng(2), 0.5)


def loss(p: Any) -> Any:
  return 0.5 * jnp.mean(jnp.sum((_predict(p) - _TARGETS) ** 2, axis=-1))


_grad = jax.jit(jax.grad(loss))


def gradient(p: Params) -> Params:
  """∇loss at p, float64 numpy (call it inside tests.reference.common.float64())."""
  grads = _grad({k: jnp.asarray(v, jnp.float64) for k, v in p.items()})
  return {k: np.asarray(v, np.float64) for k, v in grads.items()}


def run_reference(step: Any, steps: int) -> list[Params]:
  """The iterates of `step(t, params, grads) -> params` (t = 0, 1, ...) from initial_params()."""
  params, iterates = initial_params(), []
  for t in range(steps):
    params = step(t, params, gradient(params))
    iterates.append({k: np.array(v) for k, v in params.items()})
  return iterates
