#!/usr/bin/env bash
# Installs what the tests need (idempotent), then runs pytest; extra arguments go to pytest.
#   bash scripts/test.sh            the default (fast) set, one pytest-xdist worker per core
#   bash scripts/test.sh -m slow    the slow end-to-end runs, one at a time (they time runs)
#   bash scripts/test.sh tests/harness -n 2   any pytest arguments; -n only when given
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-main
set +e
if [[ $# == 0 ]]; then
  set -- -n auto
fi
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "test: pytest collected no tests; that is a failure here." >&2
  exit 1
fi
exit $status
