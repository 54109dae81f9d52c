"""numpy port of AlgoPerf's NadamW baseline, for tests/reference/nadamw_test.py.

Ported line by line, in float64, from mlcommons/algorithmic-efficiency, commit
2c90454fc05d5bdf3598b0c7651e611f132a7060,
algorithms/baselines/self_tuning/jax_nadamw_full_budget.py: `scale_by_nadam` (with its
`_update_moment` and `_bias_correction`), `nadamw` (the NAdam direction, `add_decayed_weights`,
`scale_by_learning_rate`), `jax_cosine_warmup` inside `init_optimizer_state`, and the
optax schedules that function builds (optax.linear_schedule, cosine_decay_schedule and
join_schedules, as numpy). Defaults kept: eps 1e-8, eps_root 0, debias True, power 0.5;
the baseline's HPARAMS are copied below. `step(params, grads)` is one `opt_update_fn`
call followed by `optax.apply_updates`, as the baseline's `train_step` does (grad_clip None).
"""

from __future__ import annotations

import math

import numpy as np

Params = dict[str, np.ndarray]

# The baseline's HPARAMS, as its file has them.
HPARAMS = {
    "dropout_rate": 0.1,
    "learning_rate": 0.0017486387539278373,
    "one_minus_beta1": 0.06733926164,
    "beta2": 0.9955159689799007,
    "weight_decay": 0.08121616522670176,
    "warmup_factor": 0.02,
}


def jax_cosine_warmup(step_hint: int, hyperparameters: dict[str, float]):
  """lr(count): linear warmup from 0 over int(warmup_factor·step_hint) steps, then cosine to 0."""
  warmup_steps = int(hyperparameters["warmup_factor"] * step_hint)
  peak = hyperparameters["learning_rate"]

  def warmup_fn(count: int) -> float:  # optax.linear_schedule(0.0, peak, warmup_steps)
    if warmup_steps <= 0:
      return 0.0
    frac = 1 - min(max(count, 0), warmup_steps) / warmup_steps
    return (0.0 - peak) * frac + peak

  cosine_steps = max(step_hint - warmup_steps, 1)

  def cosine_fn(count: int) -> float:  # optax.cosine_decay_schedule(peak, cosine_steps)
    count = min(count, cosine_steps)
    cosine_decay = 0.5 * (1 + math.cos(math.pi * count / cosine_steps))
    return peak * cosine_decay

  def schedule_fn(count: int) -> float:  # optax.join_schedules([warmup, cosine], [warmup_steps])
    if count >= warmup_steps:
      return cosine_fn(count - warmup_steps)
    return warmup_fn(count)

  return schedule_fn


class NadamW:

  def __init__(self, learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
               eps_root: float = 0.0, debias: bool = True, weight_decay: float = 0.0,
               power: float = 0.5):
    self.learning_rate = learning_rate
    self.b1, self.b2, self.eps, self.eps_root = b1, b2, eps, eps_root
    self.debias, self.weight_decay, self.power = debias, weight_decay, power
    self.count = 0  # ScaleByAdamState.count
    self.mu: Params | None = None
    self.nu: Params | None = None
    self.schedule_count = 0  # optax.scale_by_schedule's own count

  @staticmethod
  def _update_moment(updates: Params, moments: Params, decay: float, order: int) -> Params:
    return {k: (1 - decay) * (g**order) + decay * moments[k] for k, g in updates.items()}

  @staticmethod
  def _bias_correction(moment: Params, decay: float, count: int) -> Params:
    beta = 1 - decay**count
    return {k: t / beta for k, t in moment.items()}

  def step(self, params: Params, grads: Params) -> Params:
    if self.mu is None:
      self.mu = {k: np.zeros_like(v) for k, v in params.items()}
      self.nu = {k: np.zeros_like(v) for k, v in params.items()}
    raise_power = np.sqrt if self.power == 0.5 else (lambda x: np.power(x, self.power))
    # scale_by_nadam
    mu = self._update_moment(grads, self.mu, self.b1, 1)
    nu = self._update_moment(grads, self.nu, self.b2, 2)
    count = self.count + 1
    mu_hat = self._update_moment(grads, mu, self.b1, 1)
    mu_hat = mu_hat if not self.debias else self._bias_correction(mu_hat, self.b1, count)
    nu_hat = nu if not self.debias else self._bias_correction(nu, self.b2, count)
    updates = {k: mu_hat[k] / (raise_power(nu_hat[k] + self.eps_root) + self.eps) for k in grads}
    self.mu, self.nu, self.count = mu, nu, count
    # optax.add_decayed_weights(weight_decay)
    updates = {k: u + self.weight_decay * params[k] for k, u in updates.items()}
    # scale_by_learning_rate(learning_rate): optax.scale_by_schedule(lambda c: -lr(c))
    step_size = -1 * self.learning_rate(self.schedule_count)
    self.schedule_count += 1
    updates = {k: step_size * u for k, u in updates.items()}
    return {k: params[k] + updates[k] for k in params}  # optax.apply_updates
