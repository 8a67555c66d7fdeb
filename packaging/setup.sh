#!/usr/bin/env bash
# Installs everything Generative Studio needs into ./.venv (idempotent; quick when already done).
#   system packages (Debian/Ubuntu, when run as root or with sudo): Qt's runtime libraries,
#   and Fashion-MNIST for training and evaluation (the studio itself runs without it).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs="libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 fonts-dejavu-core
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 dataset-fashion-mnist"
if command -v apt-get >/dev/null 2>&1 && ! dpkg -s $apt_pkgs >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq $apt_pkgs >/dev/null \
    || echo "setup: could not install system packages ($apt_pkgs); install them by hand" >&2
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first and pinned: this exact version resolves to the CPU build; the project's own range
# (torch>=2.3) is then already satisfied and pip downloads no CUDA build.
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[gui,test,pipelines]"
