"""runtime.use_compilation_cache: off means this process compiles from scratch, whatever it or
the machine compiled before; on means it loads what the persistent cache holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO_ROOT

# Counts XLA compilations not served by the cache (jax.monitoring's public events) and the cache
# files, around calling one jitted function again and again.
PROBE = r"""
import json, pathlib, sys
import jax, jax.numpy as jnp, numpy as np
from algoperf_lab import runtime

events = []
jax.monitoring.register_event_duration_secs_listener(lambda event, duration, **kw: events.append(event))
jax.monitoring.register_event_listener(lambda event, **kw: events.append(event))
cache = runtime.compilation_cache_dir()

program = jax.jit(lambda x: jnp.tanh(x) * 3.0 + 1.0)  # one function, as a module's jitted helper

def step():
  events.clear()
  program(np.ones(7, np.float32)).block_until_ready()
  # jax reports a backend compile also when the cache serves it, then with a cache hit
  compiled = (events.count("/jax/core/compile/backend_compile_duration")
              - events.count("/jax/compilation_cache/cache_hits"))
  return {"compiled": compiled, "on": runtime.compilation_cache_on(),
          "files": len(list(cache.glob("*"))) if cache.is_dir() else 0}

seen = []
for enabled in [bool(int(c)) for c in sys.argv[1]]:
  runtime.use_compilation_cache(enabled)
  seen.append(step())
print(json.dumps(seen))
"""


def _probe(tmp_path, toggles: str) -> list[dict]:
  env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "JAX_PLATFORMS": "cpu"}
  done = subprocess.run([sys.executable, "-c", PROBE, toggles], capture_output=True, text=True,
                        cwd=REPO_ROOT, env=env, timeout=300)
  assert done.returncode == 0, done.stderr
  return json.loads(done.stdout.splitlines()[-1])


def test_off_compiles_every_time_and_writes_nothing(tmp_path):
  first, second = _probe(tmp_path, "00")
  assert first == {"compiled": 1, "on": False, "files": 0}
  assert second == {"compiled": 1, "on": False, "files": 0}  # in-memory caches emptied too


def test_on_writes_the_cache_and_a_new_process_loads_it_but_off_does_not(tmp_path):
  (written,) = _probe(tmp_path, "1")
  assert written["compiled"] == 1 and written["on"] and written["files"] >= 1
  (loaded,) = _probe(tmp_path, "1")  # a new process: loaded from disk, no backend compile
  assert loaded["compiled"] == 0 and loaded["files"] == written["files"]
  (cold,) = _probe(tmp_path, "0")  # the same program with the cache off: compiled again
  assert cold["compiled"] == 1 and not cold["on"]
  off_then_on = _probe(tmp_path, "01")  # switched on in a process that compiled with it off
  assert off_then_on[0]["compiled"] == 1 and off_then_on[1] == loaded
