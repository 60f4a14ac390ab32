#!/usr/bin/env bash
# The deploy from zero, README "Deploy" step by step (shared/jiwa/dev/deploy.py):
#   ./deploy.sh --var-file infra/prod.tfvars [--image-tag TAG] [--dry-run]
# Uses your own gcloud and Terraform credentials (unlike ./emulator.sh, which keeps a
# gcloud config of its own for the emulators).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then ./emulator.sh build >/dev/null; fi   # installs .venv
exec .venv/bin/python -m jiwa.dev.deploy "$@"
