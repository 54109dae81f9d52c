"""AlgoPerf's NAdamW as an optax transformation, shared by both NadamW submissions.

`scale_by_nadam` is AlgoPerf's own (mlcommons/algorithmic-efficiency,
algorithms/baselines/self_tuning/jax_nadamw_full_budget.py, forked there from init2winit;
Dozat 2016 without momentum decay, as in Table 1 of Choi et al. 2019, arXiv:1910.05446):
m_t = β1 m_{t−1} + (1−β1) g_t, v_t likewise with β2 and g_t², then
m̂_t = (β1 m_t + (1−β1) g_t) / (1 − β1^t) and v̂_t = v_t / (1 − β2^t); `nadamw` moves the
parameters by −η_t (m̂_t / (√v̂_t + ε) + λ x_{t−1}). optax.nadamw is not used: its Nesterov
term debiases β1 m_t by 1 − β1^{t+1} instead of 1 − β1^t. Both submissions are checked
against a port of AlgoPerf's file in tests/reference/nadamw_test.py.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

_EPS = 1e-8


class ScaleByNadamState(NamedTuple):
  count: jax.Array  # int32, steps taken
  mu: optax.Updates  # first moment m_t
  nu: optax.Updates  # second moment v_t


def scale_by_nadam(b1: float = 0.9, b2: float = 0.999, eps: float = _EPS,
                   eps_root: float = 0.0) -> optax.GradientTransformation:
  """AlgoPerf's NAdam direction m̂_t / (√(v̂_t + eps_root) + eps), debiased as AlgoPerf debiases
  it: both terms of the Nesterov first moment by 1 − β1^t (see the module docstring)."""

  def init_fn(params: optax.Params) -> ScaleByNadamState:
    return ScaleByNadamState(count=jnp.zeros([], jnp.int32), mu=optax.tree.zeros_like(params),
                             nu=optax.tree.zeros_like(params))

  def update_fn(updates: optax.Updates, state: ScaleByNadamState,
                params: optax.Params | None = None) -> tuple[optax.Updates, ScaleByNadamState]:
    del params
    mu = optax.tree.update_moment(updates, state.mu, b1, 1)
    nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
    count = optax.safe_int32_increment(state.count)
    mu_hat = optax.tree.bias_correction(optax.tree.update_moment(updates, mu, b1, 1), b1, count)
    nu_hat = optax.tree.bias_correction(nu, b2, count)
    direction = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
    return direction, ScaleByNadamState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def nadamw(learning_rate: optax.ScalarOrSchedule, b1: float, b2: float, weight_decay: float,
           eps: float = _EPS) -> optax.GradientTransformation:
  """AlgoPerf's `nadamw`: the NAdam direction, plus λ x, times −η_t."""
  return optax.chain(scale_by_nadam(b1, b2, eps), optax.add_decayed_weights(weight_decay),
                     optax.scale_by_learning_rate(learning_rate))
