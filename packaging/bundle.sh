#!/usr/bin/env bash
# Builds a one-folder PyInstaller bundle of the studio's window, with the shipped models inside, into
# dist/genstudio-gui/ (run dist/genstudio-gui/genstudio-gui; copy the folder anywhere), then runs the
# bundled binary's self-test headless and prints the bundle's size and start-up time.
# Takes several minutes of every CPU core. Installs PyInstaller into ./.venv (the studio's venv,
# made by packaging/setup.sh) when it is missing.
#   bash packaging/bundle.sh
# How: the studio's wheel (which carries resources/ and the icons as package data) is installed into
# a build venv that borrows .venv's packages, and PyInstaller bundles from there
# (packaging/pyinstaller/genstudio-gui.spec), so the bundle holds what the wheel holds.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bash packaging/setup.sh
py="$root/.venv/bin/python"
"$py" -m PyInstaller --version >/dev/null 2>&1 || "$py" -m pip install -q --disable-pip-version-check "pyinstaller>=6.10"

work="$root/build/bundle"
rm -rf "$work" "$root/dist/genstudio-gui"
mkdir -p "$work"
echo "bundle: building the wheel" >&2
# from a copy, so the build's own files stay out of the clone, and without what a training leaves
# beside the checkpoints (resumable states, sample folders, half-written files)
mkdir -p "$work/src"
tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude='*.tmp' --exclude='*-samples' --exclude='*.state.safetensors' \
  pyproject.toml setup.py README.md studio resources packaging/studio_resources packaging/linux | tar -x -C "$work/src"
"$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation --no-index -w "$work/wheel" "$work/src"

echo "bundle: installing it into a build venv" >&2
"$py" -m venv --without-pip "$work/venv"
purelib="$("$work/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
# .venv's packages (torch, Qt, pip, PyInstaller...) after the venv's own; its .pth files are not run, so
# the clone's editable install is not seen and the studio is the wheel's.
"$py" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$purelib/studio-venv.pth"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-index \
  "$work"/wheel/generative_studio-*.whl
(cd "$work" && "$work/venv/bin/python" -) <<'PY'
import studio, sys
from studio.store.paths import resources_dir
assert (resources_dir() / "checkpoints").is_dir() and sys.prefix in studio.__file__, (studio.__file__, resources_dir())
PY

echo "bundle: running PyInstaller (minutes)" >&2
(cd packaging/pyinstaller && "$work/venv/bin/python" -m PyInstaller --noconfirm --clean \
  --distpath "$root/dist" --workpath "$work/pyinstaller" genstudio-gui.spec)

# PyInstaller copies a library both beside the binary and into its package (torch's libtorch_cpu.so,
# about 400 MB, twice): the copy beside it becomes a link to the package's.
internal="$root/dist/genstudio-gui/_internal"
for top in "$internal"/lib*.so*; do
  [ -f "$top" ] && [ ! -L "$top" ] || continue
  for pkg in "$internal"/torch/lib/"$(basename "$top")"; do
    if [ -f "$pkg" ] && cmp -s "$top" "$pkg"; then ln -sf "torch/lib/$(basename "$top")" "$top"; fi
  done
done

bin="$root/dist/genstudio-gui/genstudio-gui"
echo "bundle: self-test of $bin (offscreen, from another folder)" >&2
t0=$(date +%s.%N)
report="$(cd "$work" && env -u PYTHONPATH QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 "$bin" --self-test)" || {
  echo "$report"; echo "bundle: the self-test FAILED" >&2; exit 1; }
t1=$(date +%s.%N)
echo "$report"
if grep -q 'libcudnn\|libcublas\|libnccl' < <(find "$root/dist/genstudio-gui" -name '*.so*'); then
  echo "bundle: CUDA libraries found in the bundle" >&2; exit 1
fi
# Start-up: the run less the time the self-test spent making its images (which includes loading torch,
# the models and the prompt encoder on the worker thread, after the window is up).
images=$(awk '$1 == "OK" { for (i = 1; i < NF; i++) if ($i == "in") s += $(i + 1) } END { print s + 0 }' <<<"$report")
echo "bundle: dist/genstudio-gui, $(du -sh "$root/dist/genstudio-gui" | cut -f1) ($(tar -czf - -C "$root/dist" genstudio-gui | wc -c | awk '{printf "%.0f MB", $1 / 1e6}') as a .tar.gz)"
awk -v t0="$t0" -v t1="$t1" -v img="$images" 'BEGIN { printf "bundle: self-test %.1f s in all: start-up, window and closing %.1f s; the images (torch, models and prompt encoder loading included) %.1f s\n", t1 - t0, t1 - t0 - img, img }'
