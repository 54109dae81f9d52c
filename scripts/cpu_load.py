"""Starts a competing CPU load for a bounded time: N busy processes, each a tight loop.

For checking that tiny-workload verdicts survive a busy machine (the process_cpu clock):

    python scripts/cpu_load.py --processes=1 --seconds=600 &
    algoperf-lab demo --workdir=runs/demo_loaded

Each process stops by itself after --seconds (and with its parent on Ctrl-C).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time


def busy(seconds: float) -> None:
  """Spins one core until `seconds` have passed."""
  deadline = time.monotonic() + seconds
  x = 0
  while time.monotonic() < deadline:
    for _ in range(10_000):
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648


def start_load(processes: int, seconds: float) -> list[multiprocessing.process.BaseProcess]:
  context = multiprocessing.get_context("spawn")  # no fork of a process running JAX threads
  workers = [context.Process(target=busy, args=(seconds,), daemon=True)
             for _ in range(processes)]
  for worker in workers:
    worker.start()
  return workers


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--processes", type=int, default=1)
  parser.add_argument("--seconds", type=float, default=600.0)
  args = parser.parse_args(argv)
  if args.processes < 1 or not 0 < args.seconds <= 24 * 3600:
    parser.error("--processes must be >= 1 and --seconds in (0, 86400].")
  workers = start_load(args.processes, args.seconds)
  print(f"cpu_load: {args.processes} busy process(es) for {args.seconds:g} s", file=sys.stderr)
  for worker in workers:
    worker.join()
  return 0


if __name__ == "__main__":
  sys.exit(main())
