#!/usr/bin/env bash
# Set up (first time) and launch the studio on the shipped models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
exec .venv/bin/genstudio-gui "$@"
