"""WSM's checkpoint merge, from the paper (its authors have published no code).

Tian et al., *WSM: Decay-Free Learning Rate Schedule via Checkpoint Merging for LLM
Pre-training* (arXiv:2507.17634; ICLR 2026), Sec. 3, as the paper's Theorem 3.1 and Algorithm 1
are reproduced by public summaries of it (the paper's own text was not readable from here): the
learning rate warms up linearly and then stays at its peak; checkpoints theta_n, ...,
theta_(n+k) are saved every T_cpt steps and merged as
  theta_hat = sum_(j=0..k) c_j theta_(n+j) = theta_n - sum_(i=1..k) w_i g_(n+i-1),
  w_i = sum_(j>=i) c_j;
for a target monotone decay 1 >= w_1 >= ... >= w_k >= 0 the unique merge weights are
  c_0 = 1 - w_1,  c_j = w_j - w_(j+1) (1 <= j < k),  c_k = w_k.
Mean averaging (every checkpoint in the window weighted equally) is the merge behind the
paper's main WSM results; 1 - sqrt weights derived this way are its best ablation. Where the
paper samples the decay (w_i from the target curve) is not readable here: `decay_weights`
samples f at (i - 1) / k, so the first interval keeps the full rate (w_1 = 1, c_0 = 0), the
convention of a WSD cooldown whose first step runs at the peak.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

DECAYS: dict[str, Callable[[float], float]] = {
    "1-sqrt": lambda z: 1 - math.sqrt(z),
    "cosine": lambda z: 0.5 * (1 + math.cos(math.pi * z)),
    "linear": lambda z: 1 - z,
}


def merge_weights_from_decay(w: Sequence[float]) -> list[float]:
  """Theorem 3.1: c_0..c_k from w_1..w_k."""
  k = len(w)
  c = [1 - w[0]] + [w[j - 1] - w[j] for j in range(1, k)] + [w[k - 1]]
  return c


def decay_weights(decay: str, k: int) -> list[float]:
  """w_i = f((i - 1) / k), i = 1..k."""
  return [DECAYS[decay]((i - 1) / k) for i in range(1, k + 1)]


def mean_merge(checkpoints: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  return {key: sum(ckpt[key] for ckpt in checkpoints) / len(checkpoints)
          for key in checkpoints[0]}


def theorem_merge(base: dict[str, np.ndarray], checkpoints: Sequence[dict[str, np.ndarray]],
                  decay: str) -> dict[str, np.ndarray]:
  """sum_j c_j theta_(n+j) over the base theta_n and the k checkpoints after it."""
  c = merge_weights_from_decay(decay_weights(decay, len(checkpoints)))
  thetas = [base, *checkpoints]
  return {key: sum(cj * theta[key] for cj, theta in zip(c, thetas)) for key in base}
