#!/usr/bin/env bash
# Jiwa Onboard's local stack and test runner. See README.md.
#   ./emulator.sh up | down | status | env | logs [name] | test [--fast] [pytest args] | demo
#   ./emulator.sh simulate [--phone P] "/daftar"   (plays a WhatsApp user on the running stack)
#   ./emulator.sh build   (build/<function>/ for infra/)
#   ./emulator.sh bench [delivery | start | pipeline | cost | load]   (benchmarks; README "Benchmarks")
#   ./emulator.sh lock [--upgrade | --upgrade-package NAME]   (re-resolve uv.lock)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=$ROOT/.venv
STATE=${JIWA_STATE_DIR:-$ROOT/.jiwa}
export CLOUDSDK_CONFIG=$STATE/gcloud   # gcloud writes nothing in the home folder
UV_VERSION=0.13.9                      # the uv that reads and writes uv.lock (the Dockerfile's too)
UV=$ROOT/.jiwa/uv/bin/uv
export UV_PROJECT_ENVIRONMENT=$VENV UV_PYTHON_DOWNLOADS=never   # never a Python uv downloads
# Let Python keep the project's compiled modules (__pycache__: ignored by git, the function
# build and the image). With PYTHONDONTWRITEBYTECODE set, as on this machine, every process
# the tests and the stack start (functions, each job) compiled the project's modules again,
# and pytest rewrote every test module on each run: a third of the fast tier's time.
unset PYTHONDONTWRITEBYTECODE

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "emulator.sh: $1 not found. $2" >&2; exit 2; }
}

locked() {  # runs "$@" holding .jiwa/setup.lock, so that two commands never install at once
  mkdir -p "$ROOT/.jiwa"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.jiwa/setup.lock"
    flock 9
    "$@"
    exec 9>&-
  else
    "$@"
  fi
}

python312() {  # prints the path of a working Python 3.12: python3.12 on PATH, else pyenv's
  local root candidate
  if command -v pyenv >/dev/null 2>&1; then root=$(pyenv root); else root=${PYENV_ROOT:-$HOME/.pyenv}; fi
  # A pyenv shim named python3.12 exists even when 3.12 is not selected, and then fails:
  # each candidate is run, and the interpreter it really is gets printed.
  for candidate in "$(command -v python3.12 || true)" \
      $(printf '%s\n' "$root"/versions/3.12*/bin/python3.12 | sort -rV); do
    [ -x "$candidate" ] || continue
    "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12); print(sys.executable)' \
      2>/dev/null && return 0
  done
  return 1
}

bootstrap_uv() {  # uv $UV_VERSION in .jiwa/uv, a venv of the machine's python3
  case "$("$UV" --version 2>/dev/null)" in "uv $UV_VERSION"*) return 0 ;; esac
  need python3 "Install Python 3 (any version) to bootstrap uv."
  echo "emulator.sh: installing uv $UV_VERSION into .jiwa/uv" >&2
  rm -rf "$ROOT/.jiwa/uv"
  python3 -m venv "$ROOT/.jiwa/uv"
  "$ROOT/.jiwa/uv/bin/python" -m pip install --quiet "uv==$UV_VERSION"
}

install() {
  bootstrap_uv
  # .venv must be Python 3.12, the version production runs (functions python312, the image).
  # Another one (or none) is replaced: the new environment is built beside it and renamed
  # into place, so that tests running from the old one are not pulled from under them.
  local target=$VENV py
  if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    py=$(python312) || { echo "emulator.sh: Python 3.12 not found (neither python3.12 on PATH nor" \
      "a pyenv version 3.12.*). Install it, e.g. 'pyenv install 3.12' or apt-get install python3.12." >&2; exit 2; }
    echo "emulator.sh: creating .venv with $py" >&2
    target=$ROOT/.jiwa/venv-new
    rm -rf "$target" "$ROOT"/.jiwa/venv-old-*
    "$UV" venv --quiet --relocatable --python "$py" "$target"
  fi
  # Install exactly uv.lock (the project editable, with the dev group) when pyproject.toml
  # or uv.lock changed since the last install. --locked: a lock out of date fails.
  # --compile-bytecode: as pip does; without it, each run with PYTHONDONTWRITEBYTECODE set
  # would compile every imported module again (9 s of each test run here).
  local stamp=$target/.installed out
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ uv.lock -nt "$stamp" ]; then
    if ! out=$(UV_PROJECT_ENVIRONMENT=$target "$UV" sync --locked --group dev \
        --compile-bytecode --python "$target/bin/python" --quiet 2>&1); then
      echo "$out" >&2
      if grep -q "needs to be updated" <<<"$out"; then
        echo "emulator.sh: uv.lock is out of date with pyproject.toml. Run ./emulator.sh lock" \
          "and commit uv.lock (docs/decisions/0004-one-lock.md)." >&2
      else
        echo "emulator.sh: installing uv.lock into .venv failed (above)." >&2
      fi
      exit 1
    fi
    touch "$stamp"
  fi
  if [ "$target" != "$VENV" ]; then
    if [ -e "$VENV" ]; then mv "$VENV" "$ROOT/.jiwa/venv-old-$$"; fi   # removed next time
    mv "$target" "$VENV"
  fi
}

setup() {  # .venv with the locked set, and the emulators' prerequisites
  need java "Install Java 17 (the Pub/Sub and Firestore emulators run on it), e.g. apt-get install openjdk-17-jre-headless."
  need gcloud "Install the Google Cloud CLI with the pubsub-emulator and cloud-firestore-emulator components."
  mkdir -p "$STATE"
  locked install
}

tools() {  # checkov for infra/, in its own environment (its pins fight the project's)
  local tools=$ROOT/.jiwa/tools stamp=$ROOT/.jiwa/tools/.installed
  if [ ! -f "$stamp" ] || [ infra/requirements-checks.txt -nt "$stamp" ]; then
    need python3 "Install Python 3."
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet -r infra/requirements-checks.txt
    touch "$stamp"
  fi
}

audit() {  # known vulnerabilities in the whole locked set (docs/decisions/0004-one-lock.md)
  local ignores=() id reason requirements count=0
  while read -r id reason; do
    case "$id" in ""|"#"*) continue ;; esac
    [ -n "$reason" ] || { echo "emulator.sh: audit-exceptions.txt: $id has no reason" >&2; exit 1; }
    ignores+=(--ignore-vuln "$id")
    count=$((count + 1))
  done < audit-exceptions.txt
  # pip-audit asks PyPI's JSON API for each package's version, or OSV. If neither answers,
  # say so loudly and go on: the tests do not depend on a service that is not there.
  local service
  service=$("$VENV/bin/python" - <<'PY'
import importlib.metadata

import requests

version = importlib.metadata.version("pip-audit")
probes = {
    "pypi": lambda: requests.get(f"https://pypi.org/pypi/pip-audit/{version}/json", timeout=15),
    "osv": lambda: requests.post("https://api.osv.dev/v1/query", timeout=15, json={
        "package": {"name": "pip-audit", "ecosystem": "PyPI"}, "version": version}),
}
for name, probe in probes.items():
    try:
        if probe().status_code == 200:
            print(name)
            break
    except requests.RequestException:
        pass
PY
)
  if [ -z "$service" ]; then
    printf '\n%s\n%s\n%s\n%s\n\n' \
      "##############################################################################" \
      "emulator.sh: WARNING: the dependency audit (pip-audit) was NOT run: no vulnerability" \
      "service answers here (PyPI's per-version JSON API, api.osv.dev). See docs/decisions/0004." \
      "##############################################################################" >&2
    return 0
  fi
  requirements=$(mktemp)
  "$UV" export --locked --quiet --all-groups --no-emit-project --format requirements-txt \
    --python "$VENV/bin/python" -o "$requirements"
  echo "emulator.sh: pip-audit over uv.lock, service $service" \
    "($count exceptions in audit-exceptions.txt)" >&2
  # --strict: a package that could not be audited fails too, rather than passing unseen.
  if ! "$VENV/bin/pip-audit" --vulnerability-service "$service" --requirement "$requirements" \
      --require-hashes --disable-pip --progress-spinner off --strict "${ignores[@]}"; then
    rm -f "$requirements"
    echo "emulator.sh: pip-audit failed (above): a known vulnerability, or a package it could" \
      "not audit. Upgrade it (./emulator.sh lock --upgrade-package NAME) or list the" \
      "vulnerability with its reason in audit-exceptions.txt." >&2
    exit 1
  fi
  rm -f "$requirements"
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
  lock)   # re-resolve uv.lock from pyproject.toml: uv lock [--upgrade | --upgrade-package NAME]
    locked bootstrap_uv
    py=$(python312) || { echo "emulator.sh: Python 3.12 not found." >&2; exit 2; }
    "$UV" lock --python "$py" "$@"
    ;;
  build)
    locked install
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
    # --fast: lint, type-check and the tests not marked `integration` (no emulators, no
    # checkov, no audit). Other arguments go to pytest.
    fast=0
    args=()
    for a in "$@"; do if [ "$a" = --fast ]; then fast=1; else args+=("$a"); fi; done
    if [ "$fast" -eq 1 ]; then
      locked install
    else
      setup
      locked tools
    fi
    "$VENV/bin/ruff" check .
    "$VENV/bin/mypy"
    "$VENV/bin/mypy" functions/*/main.py   # one run: each is checked as functions.<name>.main
    # pytest-xdist workers (JIWA_TEST_WORKERS=0: one process). The fast tier's unit tests
    # are CPU: two, one a core. In the full run each worker has its own local stack (the
    # session fixtures) and the integration tests partly wait on emulators, processes and
    # injected latencies: three keep the two cores busier (6:04-6:07 against 6:33-6:40 with
    # two when the run was CPU-bound; now 5:07-5:13, and four no faster at 5:19). README
    # "Testing" has the times.
    if [ "$fast" -eq 1 ]; then workers="${JIWA_TEST_WORKERS:-2}"; else workers="${JIWA_TEST_WORKERS:-3}"; fi
    args=(-n "$workers" "${args[@]}")
    if [ "$fast" -eq 1 ]; then
      args=(-m "not integration" "${args[@]}")
    else
      audit
      # the slowest tests, printed after the run: where the suite's time goes (#14);
      # tests handed out one at a time, in tests/conftest.py's order (slowest first)
      args=(--durations=25 --dist loadgroup --no-loadscope-reorder "${args[@]}")
    fi
    set +e
    "$VENV/bin/python" -m pytest "${args[@]}"
    code=$?
    set -e
    if [ "$code" -eq 5 ]; then echo "emulator.sh: pytest collected no tests" >&2; exit 1; fi
    exit "$code"
    ;;
  *)
    sed -n "2,6p" "$0"
    [ "$cmd" = help ] || exit 2
    ;;
esac
