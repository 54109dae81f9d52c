"""Constants and helpers shared by tests: a very small LM config, submissions, a fake clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NADAMW = str(REPO_ROOT / "submissions" / "baselines" / "nadamw.py")
ADAMW = str(REPO_ROOT / "submissions" / "baselines" / "adamw.py")
ALGOPERF_STYLE = str(REPO_ROOT / "tests" / "fixtures" / "algoperf_style_submission.py")

# One layer, width 32, 32-token windows: compiles in seconds, still the real corpus.
SMALL_LM_OVERRIDES = (
    "--config.model.num_layers=1", "--config.model.d_model=32", "--config.model.num_heads=2",
    "--config.model.mlp_dim=64", "--config.model.max_seq_len=32", "--config.data.seq_len=32",
    "--config.batch_size=8", "--config.data.num_eval_train_examples=16",
    "--config.data.num_validation_examples=16", "--config.data.num_test_examples=16",
    "--config.data.eval_batch_size=16", "--config.targets.step_hint=100",
)


@dataclasses.dataclass
class FakeTime:
  """A clock that moves only when a test says so."""

  now: float = 0.0

  def __call__(self) -> float:
    return self.now

  def advance(self, seconds: float) -> None:
    self.now += seconds


def hear_ctrl_c() -> None:
  """A child process's preexec_fn: SIGINT back to its default action before exec, so that the
  child's Python turns it into KeyboardInterrupt. A suite started as a background job (`pytest
  ... &` from a script) ignores SIGINT, children inherit that, and Python then installs no
  handler: a test that sends Ctrl-C would wait for a child that never hears it."""
  import signal

  signal.signal(signal.SIGINT, signal.SIG_DFL)
