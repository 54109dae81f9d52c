#!/usr/bin/env bash
# Installs algoperf_lab into .venv with its offline datasets, then runs the main job.
#   bash scripts/setup.sh            install, then run the main job
#   bash scripts/setup.sh --no-main  install only (what scripts/test.sh uses)
# Datasets go to $ALGOPERF_LAB_DATA_ROOT (default ~/.local/share/algoperf_lab).
set -euo pipefail
cd "$(dirname "$0")/.."

run_main=1
[[ "${1:-}" == "--no-main" ]] && run_main=0
data_root="${ALGOPERF_LAB_DATA_ROOT:-$HOME/.local/share/algoperf_lab}"
sudo_cmd=""
[[ "$(id -u)" != 0 ]] && sudo_cmd="sudo"
apt_updated=0

apt_update_once() {
  if [[ $apt_updated == 0 ]]; then
    $sudo_cmd apt-get update -qq
    apt_updated=1
  fi
}

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python 3.11 or newer is needed ($python_bin is $("$python_bin" --version 2>&1))." >&2
  echo "setup: set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi

# 1. The Python environment.
if [[ ! -x .venv/bin/python ]]; then
  if ! "$python_bin" -m venv .venv 2>/dev/null; then
    apt_update_once
    $sudo_cmd apt-get install -y -qq python3-venv
    rm -rf .venv
    "$python_bin" -m venv .venv
  fi
fi
# pip's own chatter (and any index warnings of this machine's pip configuration) goes to a log;
# the terminal gets one line, or the log's tail when the install fails.
pip_log=.venv/pip-install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip \
       && .venv/bin/python -m pip install -q -e '.[test,leaderboard]'; } >"$pip_log" 2>&1; then
  tail -n 40 "$pip_log" >&2
  echo "setup: installing the Python packages failed; the whole log is $pip_log" >&2
  exit 1
fi
echo "setup: Python packages installed in .venv (pip's log: $pip_log)"

# 2. The Jane Austen novels: Debian's r-cran-janeaustenr, unpacked without installing R.
austen_marker="$data_root/debian/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
if [[ ! -f "$austen_marker" ]]; then
  apt_update_once
  download_dir="$(mktemp -d)"
  chmod 755 "$download_dir"
  sandbox_option=()
  [[ "$(id -u)" == 0 ]] && sandbox_option=(-o APT::Sandbox::User=root)  # root: no _apt warning
  (cd "$download_dir" && apt-get download -qq "${sandbox_option[@]}" r-cran-janeaustenr)
  mkdir -p "$data_root/debian"
  dpkg -x "$download_dir"/r-cran-janeaustenr_*.deb "$data_root/debian"
  rm -rf "$download_dir"
fi
# 3. Fashion-MNIST: Debian's dataset-fashion-mnist (IDX files in /usr/share/datasets).
if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  apt_update_once
  $sudo_cmd apt-get install -y -qq dataset-fashion-mnist
fi
echo "setup: datasets ready under $data_root and /usr/share/datasets"
# 4. Debian's Chromium, for the leaderboard's browser tests (playwright drives it; nothing
#    downloads a browser). Where apt cannot install it, those tests skip and say why.
if [[ ! -x /usr/bin/chromium ]]; then
  if { apt_update_once && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium; } \
       >.venv/chromium-install.log 2>&1; then
    echo "setup: Chromium installed for the browser tests"
  else
    echo "setup: Chromium could not be installed (.venv/chromium-install.log); the browser tests will skip"
  fi
fi

# 5. The main job: the bundled baselines on every tiny workload, scored, with a report.
if [[ $run_main == 1 ]]; then
  .venv/bin/algoperf-lab demo --workdir=runs/demo
fi
