#!/usr/bin/env bash
# Installs what the tests need (idempotent), then runs pytest; extra arguments go to pytest.
#   bash scripts/test.sh            the default (fast) set
#   bash scripts/test.sh -m slow    the slow end-to-end runs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-main
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "test: pytest collected no tests; that is a failure here." >&2
  exit 1
fi
exit $status
