#!/usr/bin/env bash
# Set up (first time) and run the whole test suite, Qt offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
