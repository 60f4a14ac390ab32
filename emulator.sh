#!/usr/bin/env bash
# Jiwa Onboard's local stack and test runner. See README.md.
#   ./emulator.sh up | down | status | env | logs [name] | test [pytest args] | demo
#   ./emulator.sh simulate [--phone P] "/daftar"   (plays a WhatsApp user on the running stack)
#   ./emulator.sh build   (build/<function>/ for infra/)   ./emulator.sh bench   (benchmarks)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=$ROOT/.venv
STATE=${JIWA_STATE_DIR:-$ROOT/.jiwa}
export CLOUDSDK_CONFIG=$STATE/gcloud   # gcloud writes nothing in the home folder

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "emulator.sh: $1 not found. $2" >&2; exit 2; }
}

setup() {
  need python3 "Install Python 3.11 or newer."
  need java "Install Java 17 (the Pub/Sub and Firestore emulators run on it), e.g. apt-get install openjdk-17-jre-headless."
  need gcloud "Install the Google Cloud CLI with the pubsub-emulator and cloud-firestore-emulator components."
  mkdir -p "$STATE"
  local stamp=$VENV/.installed
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  # Reinstall when pyproject.toml changed since the last install.
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    touch "$stamp"
  fi
}

tools() {  # checkov for infra/, in its own environment (its pins fight the project's)
  local tools=$ROOT/.jiwa/tools stamp=$ROOT/.jiwa/tools/.installed
  if [ ! -f "$stamp" ] || [ infra/requirements-checks.txt -nt "$stamp" ]; then
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet -r infra/requirements-checks.txt
    touch "$stamp"
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  up)
    setup
    "$VENV/bin/jiwa-stack" up --state-dir "$STATE"
    "$VENV/bin/jiwa-stack" env --state-dir "$STATE"
    ;;
  demo)
    setup
    # Provider latencies like the real ones, scaled down so the demo takes about a minute.
    "$VENV/bin/jiwa-stack" up --state-dir "$STATE" --claude-latency-ms 400 --fal-latency-ms 1500
    "$VENV/bin/python" -m jiwa.dev.demo "$STATE"
    ;;
  bench)
    setup
    "$VENV/bin/python" -m bench "$@"
    ;;
  build)
    setup
    "$VENV/bin/jiwa-build" "$@"
    ;;
  simulate)
    "$VENV/bin/python" -m jiwa.dev.simulate --state-dir "$STATE" "$@"
    ;;
  down)
    if [ -x "$VENV/bin/jiwa-stack" ]; then "$VENV/bin/jiwa-stack" down --state-dir "$STATE"; else echo "stack not running"; fi
    ;;
  status)
    if [ -x "$VENV/bin/jiwa-stack" ]; then "$VENV/bin/jiwa-stack" status --state-dir "$STATE"; else echo "stack not running"; fi
    ;;
  env)
    "$VENV/bin/jiwa-stack" env --state-dir "$STATE"
    ;;
  logs)
    if [ $# -gt 0 ]; then tail -n 100 -f "$STATE/logs/$1.log"; else tail -n 20 "$STATE"/logs/*.log; fi
    ;;
  test)
    setup
    tools
    "$VENV/bin/ruff" check .
    "$VENV/bin/mypy"
    for f in functions/*/main.py; do "$VENV/bin/mypy" "$f"; done   # each is a module named main
    set +e
    "$VENV/bin/python" -m pytest "$@"
    code=$?
    set -e
    if [ "$code" -eq 5 ]; then echo "emulator.sh: pytest collected no tests" >&2; exit 1; fi
    exit "$code"
    ;;
  *)
    sed -n "2,5p" "$0"
    [ "$cmd" = help ] || exit 2
    ;;
esac
