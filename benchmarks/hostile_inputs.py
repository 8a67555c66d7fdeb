"""The bad inputs of issue 11, tried end to end as a hostile user would: files given to the CLI, a bad
file beside good checkpoints, a damaged gallery, tampered PNG settings, a damaged queue, kill -9 in
the middle of ``generate --num`` and of training. Prints one row per input class.

Outcomes: *clear error* (refused with one sentence, nothing else harmed), *accepted correctly* (a
valid input, or a repair that needs no message), *crash* (a traceback, a hang, a wrong exit code, a
start-up that fails), *data lost* (a user's file gone, or an image that should be listed or on disk
is not), *wrong outcome* (no crash, but not what was promised: a bad input let through or listed as
usable, a good one refused, a repair not reported). Everything runs in
temporary folders (GENSTUDIO_DATA_DIR) with a fake ``gs`` first on PATH that only leaves a marker.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, table

GENSTUDIO = "import sys; from studio.cli import main; sys.exit(main())"
WINDOW = """
import json
from PySide6.QtWidgets import QApplication
from studio.ui.app import build_window
app = QApplication([])
w = build_window(preload=False)
w.show()
print(json.dumps({"items": len(w.store.items(include_deleted=True)), "jobs": len(w.controller.queue.jobs()),
                  "notice": w.startup_notice is not None}))
print("ok")
w.close()
w.store.close()
"""
CLEAR, ACCEPTED, CRASH, LOST, WRONG = "clear error", "accepted correctly", "crash", "data lost", "wrong outcome"
OUTCOMES = (CLEAR, ACCEPTED, CRASH, LOST, WRONG)
FMNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Case:
    klass: str
    name: str
    outcome: str
    detail: str = ""


@dataclass
class Run:
    rc: int | None  # None: killed at the timeout
    out: str
    err: str

    @property
    def clear_error(self) -> bool:
        """Refused the way the CLI promises: exit 2, one line on stderr, no traceback."""
        lines = self.err.strip().splitlines()
        return self.rc == 2 and len(lines) == 1 and lines[0].startswith("genstudio:") and "Traceback" not in self.err

    def why(self) -> str:
        if self.rc is None:
            return "timed out"
        return f"rc {self.rc}: {(self.err.strip().splitlines() or [''])[-1][:160]}"


class Sandbox:
    """A temporary user data folder and the environment every subprocess runs in."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.data = self.dir / "data"
        self.data.mkdir(parents=True)
        fakebin = self.dir / "bin"
        fakebin.mkdir()
        self.gs_marker = self.dir / "gs-was-run"
        gs = fakebin / "gs"
        gs.write_text(f"#!/bin/sh\necho \"$@\" >> '{self.gs_marker}'\nexit 1\n")
        gs.chmod(0o755)
        self.env = {**os.environ, "GENSTUDIO_DATA_DIR": str(self.data), "HF_HUB_OFFLINE": "1",
                    "QT_QPA_PLATFORM": "offscreen", "PATH": f"{fakebin}{os.pathsep}{os.environ.get('PATH', '')}"}

    def popen(self, code: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def run(self, code: str, *args: str, timeout: float = 60) -> Run:
        proc = self.popen(code, *args)
        try:
            out, err = proc.communicate(timeout=timeout)
            return Run(proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return Run(None, out, err)

    def genstudio(self, *args: str, timeout: float = 60) -> Run:
        return self.run(GENSTUDIO, *args, timeout=timeout)

    def window(self) -> tuple[dict | None, Run]:
        """Start the real window on this data folder; its gallery and queue counts, or None if it failed."""
        r = self.run(WINDOW, timeout=60)
        lines = r.out.strip().splitlines()
        if r.rc != 0 or lines[-1:] != ["ok"] or "Traceback" in r.err:
            return None, r
        return json.loads(lines[-2]), r


def tiny_checkpoint(path: Path) -> Path:
    from tests.conftest import make_tiny_checkpoint

    return make_tiny_checkpoint(path)


# --- 1. image files given to --init-image ----------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _huge_png(path: Path, side: int) -> None:
    """A valid 1-bit grey PNG of side x side zero pixels, streamed (about 110 KB for 30000 x 30000)."""
    z, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def _image_files(folder: Path) -> dict[str, tuple[Path, bool]]:
    """name -> (file, should be accepted)."""
    from PIL import Image

    f = {name: folder / name for name in ("strip.png", "huge.png", "eps.png", "empty.png", "truncated.png",
                                          "random.jpg", "a-folder", "missing.png", "normal.png")}
    Image.new("L", (100000, 1)).save(f["strip.png"])
    _huge_png(f["huge.png"], 30000)
    f["eps.png"].write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{} loop\n")
    f["empty.png"].touch()
    Image.new("RGBA", (64, 48), (200, 30, 30, 128)).save(f["normal.png"])
    good = f["normal.png"].read_bytes()
    f["truncated.png"].write_bytes(good[: len(good) // 2])
    f["random.jpg"].write_bytes(os.urandom(4096))
    f["a-folder"].mkdir()
    return {name: (path, name == "normal.png") for name, path in f.items()}


def init_images(root: Path) -> list[Case]:
    box = Sandbox(root, "init-images")
    tiny_checkpoint(box.data / "checkpoints" / "tiny.safetensors")
    files = _image_files(box.dir)
    # The fake gs must be what Pillow would run: an unrestricted open of the EPS file does run it.
    box.run("from PIL import Image; import sys; Image.open(sys.argv[1]).load()", str(files["eps.png"][0]))
    assert box.gs_marker.exists(), "the fake gs on PATH is not what Pillow runs; this check would see nothing"
    box.gs_marker.unlink()
    cases = []
    for name, (path, valid) in files.items():
        out = box.dir / f"out-{name}.png"
        r = box.genstudio("generate", "--checkpoint", "tiny", "--init-image", str(path), "--steps", "2",
                          "--out", str(out), "--quiet")
        if box.gs_marker.exists():
            box.gs_marker.unlink()
            cases.append(Case("init image", name, CRASH, "Ghostscript was run"))
        elif valid:
            ok = r.rc == 0 and out.is_file()
            cases.append(Case("init image", name, ACCEPTED if ok else WRONG if r.clear_error else CRASH,
                              "" if ok else r.why()))
        else:
            cases.append(Case("init image", name, CLEAR if r.clear_error else CRASH,
                              r.err.strip() if r.clear_error else r.why()))
    return cases


# --- 2. one bad file in the checkpoints folder ------------------------------------------------------
def _bad_checkpoints() -> dict[str, Callable[[Path], None]]:
    """name -> writes ``bad.safetensors`` (and maybe its card) at the given path."""
    import torch
    from safetensors.torch import save_file

    from studio.core import checkpoint

    def card(text: str) -> Callable[[Path], None]:
        return lambda p: (tiny_checkpoint(p), p.with_suffix(".json").write_text(text))

    def header(config: str) -> Callable[[Path], None]:
        meta = {"format": checkpoint.FORMAT, "family": "diffusion", "config": config, "extra": "{}"}
        return lambda p: save_file({"ema.x": torch.zeros(2)}, str(p), metadata=meta)

    def huge(p: Path) -> None:
        good = checkpoint.load(tiny_checkpoint(p))
        good.config["unet"]["image_size"] = 10**6
        checkpoint.save(p, family="diffusion", config=good.config, tensors=good.tensors, card={"id": "bad"})

    def truncated(p: Path) -> None:
        data = tiny_checkpoint(p).read_bytes()
        p.write_bytes(data[: len(data) // 2])

    return {"card [1,2,3]": card("[1, 2, 3]"), 'card {"data": "x"}': card('{"data": "x"}'),
            'card {"title": 5}': card('{"title": 5}'), 'config "[]"': header("[]"),
            "config not JSON": header("{not json"), "image_size 10**6": huge,
            "truncated safetensors": truncated, "zero-byte safetensors": lambda p: p.touch()}


def checkpoint_folder(root: Path) -> list[Case]:
    cases = []
    for n, (name, write) in enumerate(_bad_checkpoints().items()):
        box = Sandbox(root, f"checkpoints-{n}")
        folder = box.data / "checkpoints"
        tiny_checkpoint(folder / "tiny-good.safetensors")
        bad = folder / "bad.safetensors"
        write(bad)
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        problems = []
        listing = box.genstudio("models")
        listed, _, broken = listing.out.partition("\nbroken (")
        wrong = []
        if listing.rc != 0 or "tiny-good" not in listed:
            problems.append(f"models: {listing.why()}")
        elif not any(line.startswith("bad ") and len(line.split()) > 2 for line in broken.splitlines()):
            wrong.append("`genstudio models` lists bad.safetensors as usable, not as broken")
        out = box.dir / "good.png"
        good = box.genstudio("generate", "--checkpoint", "tiny-good", "--steps", "2", "--out", str(out), "--quiet")
        if good.rc != 0 or not out.is_file():
            problems.append(f"generate with the good one: {good.why()}")
        refused = box.genstudio("generate", "--checkpoint", "bad", "--steps", "2", "--out", str(box.dir / "b.png"),
                                "--quiet")
        if not refused.clear_error:
            problems.append(f"generate with the bad one: {refused.why()}")
        state, win = box.window()
        if state is None:
            problems.append(f"window: {win.why()}")
        lost = [k for k, v in before.items() if not (folder / k).is_file() or (folder / k).read_bytes() != v]
        outcome = LOST if lost else CRASH if problems else WRONG if wrong else CLEAR
        cases.append(Case("checkpoints folder", name, outcome, f"changed or gone: {lost}" if lost else
                          "; ".join(problems + wrong + [refused.err.strip()])))
    return cases


# --- 3. a damaged gallery ----------------------------------------------------------------------------
def _make_gallery(root: Path) -> list[str]:
    import numpy as np

    from studio.core.request import GenerationRequest
    from studio.store.gallery import GalleryStore

    with GalleryStore(root) as store:
        return [store.add(np.full((12, 12, 1), 40 * i, np.uint8),
                          GenerationRequest(prompt=f"image {i}", seed=i, checkpoint="tiny")).path.name
                for i in range(3)]


def _db_edit(old: bytes, new: bytes) -> Callable[[Path, list[str]], list[str]]:
    def edit(root: Path, names: list[str]) -> list[str]:
        db = root / "gallery.sqlite3"
        data = db.read_bytes()
        assert old in data, f"{old!r} is not in the index"
        db.write_bytes(data.replace(old, new, 1))
        return names
    return edit


def _gallery_damage() -> dict[str, tuple[Callable[[Path, list[str]], list[str]], bool]]:
    """name -> (damage(root, names) -> the names that must still be listed, a problem must be reported)."""
    import numpy as np
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from studio.core.request import GenerationRequest
    from studio.store.pngmeta import save_png

    def zero_index(root: Path, names: list[str]) -> list[str]:
        (root / "gallery.sqlite3").write_bytes(b"")
        return names

    def no_index(root: Path, names: list[str]) -> list[str]:
        (root / "gallery.sqlite3").unlink()
        return names

    def steps_1e999(root: Path, names: list[str]) -> list[str]:
        info = PngInfo()
        payload = {"request": GenerationRequest(prompt="x").to_dict(), "batch_index": 0, "version": 1}
        info.add_text("genstudio", json.dumps(payload).replace('"steps": 50', '"steps": 1e999'))
        info.add_text("parameters", "x\nSteps: 1e999, Sampler: ddim, Seed: 0, Size: 28x28, Family: diffusion")
        Image.new("L", (12, 12)).save(root / "images" / names[0], pnginfo=info)
        (root / "gallery.sqlite3").unlink()  # the rebuild is what met it
        return names[1:]

    def stale_tmp(root: Path, names: list[str]) -> list[str]:
        (root / "images" / f".{names[0]}.{_dead_pid()}-abcd1234.tmp").write_bytes(b"\x89PNG half")
        return names

    def orphan(root: Path, names: list[str]) -> list[str]:
        name = "20240101-000000-s9-b0-deadbeef.png"
        save_png(root / "images" / name, np.zeros((12, 12, 1), np.uint8), GenerationRequest(seed=9))
        return [*names, name]

    return {"zero-byte index": (zero_index, True), "deleted index": (no_index, True),
            'PNG with "steps": 1e999': (steps_1e999, True),
            "changed byte: family": (_db_edit(b'"family": "diffusion"', b'"family": "diffusiom"'), True),
            "changed byte: broken JSON": (_db_edit(b'"steps": 50', b'"steps": 5}'), True),
            "*.tmp of a dead writer": (stale_tmp, False), "PNG without index row": (orphan, True)}


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def gallery(root: Path) -> list[Case]:
    from studio.store.gallery import GalleryStore

    cases = []
    for n, (name, (damage, reported)) in enumerate(_gallery_damage().items()):
        box = Sandbox(root, f"gallery-{n}")
        folder = box.data / "gallery"
        expected = set(damage(folder, _make_gallery(folder)))
        shutil.copytree(box.data, box.dir / "window-data")  # the window meets the same damage, unrepaired
        problems, wrong, lost = [], [], []
        try:
            with GalleryStore(folder) as store:
                items = store.items(include_deleted=True)
                listed = {item.path.name for item in items}
                lost = sorted(expected - listed)
                if reported and not store.problems:
                    families = sorted({item.request.family for item in items})
                    wrong.append(f"nothing reported; the items' families: {families}")
                if not reported and store.problems:
                    wrong.append(f"reported {store.problems}")
                detail = " ".join(store.problems)
        except Exception:  # noqa: BLE001 - that is the finding
            problems.append(traceback.format_exc(limit=2).strip().splitlines()[-1])
        if list((folder / "images").glob("*.tmp")):
            wrong.append("a *.tmp leftover was not cleaned")
        box.env["GENSTUDIO_DATA_DIR"] = str(box.dir / "window-data")
        state, win = box.window()
        if state is None:
            problems.append(f"window: {win.why()}")
        elif state["items"] != len(expected):
            lost.append(f"window lists {state['items']} of {len(expected)}")
        outcome = LOST if lost else CRASH if problems else WRONG if wrong else CLEAR if reported else ACCEPTED
        cases.append(Case("gallery", name, outcome, f"missing: {lost}" if lost else "; ".join(problems + wrong)
                          or detail))
    return cases


# --- 4. PNG settings ---------------------------------------------------------------------------------
def _settings_text(overrides: dict[str, str], **request) -> str:
    """Our ``genstudio`` chunk for a request, with fields replaced by raw JSON text (1e999, Infinity...)."""
    from studio.core.request import GenerationRequest

    text = json.dumps({"request": GenerationRequest(**request).to_dict(), "batch_index": 0, "version": 1})
    for key, raw in overrides.items():
        text, n = re.subn(rf'"{key}": ("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,}}]+)', lambda _: f'"{key}": {raw}', text)
        assert n == 1, key
    return text


PARAMS = "Steps: 20, Sampler: ddim, CFG scale: 3, Seed: 1, Size: 28x28, Family: diffusion"


def _settings_cases() -> dict[str, tuple[dict[str, str], bool | None]]:
    """name -> (PNG text chunks, valid: True accepted, False refused, None either, as long as it is quick)."""
    weight = "a cat::" + "9" * 20000 + " | a dog::1"
    return {
        "valid (ours)": ({"genstudio": _settings_text({})}, True),
        "valid (parameters only)": ({"parameters": "a cat\n" + PARAMS}, True),
        "valid vae latent": ({"genstudio": _settings_text({}, family="vae", sampler="", latent=(0.5, 1.0))}, True),
        "steps Infinity": ({"genstudio": _settings_text({"steps": "Infinity"})}, False),
        "steps 1e999": ({"genstudio": _settings_text({"steps": "1e999"})}, False),
        "seed 1e999": ({"genstudio": _settings_text({"seed": "1e999"})}, False),
        "parameters Steps: 1e999": ({"parameters": "x\n" + PARAMS.replace("20", "1e999")}, False),
        "parameters Seed: 10**30": ({"parameters": "x\n" + PARAMS.replace("Seed: 1", "Seed: " + "9" * 30)}, False),
        "latent 10**400": ({"genstudio": _settings_text({"latent": "[1" + "0" * 400 + ", 1]"}, family="vae",
                                                        sampler="")}, False),
        "parameters Latent: 1e999": ({"parameters": "x\n" + PARAMS.replace("diffusion", "vae").replace(
            "Sampler: ddim, ", "") + ", Latent: 1e999 1"}, False),
        "2 MB parameters": ({"parameters": "a" * 2_000_000 + "\n" + PARAMS}, False),
        "2 MB parameters, one line": ({"parameters": "a, " * 700_000}, False),
        "20,000-digit blend weight": ({"genstudio": _settings_text({}, prompt=weight)}, False),
        "20,000-digit weight (parameters)": ({"parameters": weight + "\n" + PARAMS}, False),
        "3,990-digit blend weight": ({"genstudio": _settings_text({}, prompt="a::" + "9" * 3990)}, None),
        "NUL in prompt": ({"genstudio": _settings_text({"prompt": '"a\\u0000b"'})}, False),
        "lone surrogate": ({"genstudio": _settings_text({"prompt": '"a\\ud800b"'})}, False),
        "unknown family": ({"genstudio": _settings_text({"family": '"nosuch"'})}, False),
        "unknown sampler": ({"genstudio": _settings_text({"sampler": '"nosuch"'})}, False),
        "checkpoint ../x": ({"genstudio": _settings_text({"checkpoint": '"../x"'})}, False),
        "width 0": ({"genstudio": _settings_text({"width": "0"})}, False),
        "nested brackets": ({"genstudio": "[" * 100000 + "]" * 100000}, False),
    }


def _read_settings_in_child(path: str, conn) -> None:
    from studio.core.errors import StudioError
    from studio.store.pngmeta import read_settings

    stage = "read_settings"
    try:
        request, _ = read_settings(path)
        stage = "validated"  # what a drop on the window, the queue and Generate do with it next
        request.validated()
        conn.send((ACCEPTED, ""))
    except StudioError as e:
        msg = f"{stage}: {e}"
        conn.send((CLEAR, msg[:200]) if len(msg) < 2000 and "\n" not in msg else (CRASH, f"message of {len(msg)}"))
    except BaseException:  # noqa: BLE001 - that is the finding
        conn.send((CRASH, traceback.format_exc(limit=2).strip().splitlines()[-1][:200]))


def png_settings(root: Path) -> list[Case]:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    folder = root / "png-settings"
    folder.mkdir()
    fork = multiprocessing.get_context("fork")
    cases = []
    for n, (name, (texts, valid)) in enumerate(_settings_cases().items()):
        path = folder / f"{n}.png"
        info = PngInfo()
        for key, value in texts.items():
            info.add_text(key, value)
        Image.new("L", (12, 12)).save(path, pnginfo=info)
        here, there = fork.Pipe()
        child = fork.Process(target=_read_settings_in_child, args=(str(path), there))
        child.start()
        outcome, detail = (here.recv() if here.poll(10) else (CRASH, "still reading after 10 s"))
        child.kill()
        child.join()
        wanted = {True: {ACCEPTED}, False: {CLEAR}, None: {ACCEPTED, CLEAR}}[valid]
        if outcome not in wanted and outcome != CRASH:
            outcome, detail = WRONG, f"wrongly {'refused' if valid else 'accepted'}: {detail}"
        cases.append(Case("PNG settings", name, outcome, detail))
    return cases


# --- 5. queue.json -----------------------------------------------------------------------------------
def _queue_files() -> dict[str, tuple[bytes, int]]:
    """name -> (file content, jobs the queue must hold after it)."""
    from studio.core.request import GenerationRequest

    good = {"id": "job-1", "request": GenerationRequest(seed=1).to_dict()}
    bad = json.dumps({"id": "job-2", "request": GenerationRequest(seed=2).to_dict()}).replace('"steps": 50',
                                                                                           '"steps": 1e999')
    return {"valid": (json.dumps({"version": 1, "jobs": [good]}).encode(), 1),
            "invalid UTF-8": (b'{"version": 1, "jobs": [{"id": "\xff\xfe"}]}', 0),
            '[{"steps": 1e999}]': (b'[{"steps": 1e999}]', 0),
            "one job steps 1e999": (f'{{"version": 1, "jobs": [{json.dumps(good)}, {bad}]}}'.encode(), 1),
            "null": (b"null", 0), "5 MB array": (b"[" + b"0," * 2_500_000 + b"0]", 0),
            "nested brackets": (b"[" * 100000 + b"]" * 100000, 0)}


def queue(root: Path) -> list[Case]:
    cases = []
    for n, (name, (content, jobs)) in enumerate(_queue_files().items()):
        box = Sandbox(root, f"queue-{n}")
        (box.data / "queue.json").write_bytes(content)
        state, win = box.window()
        kept = any(p.is_file() and p.stat().st_size == len(content) and p.read_bytes() == content
                   for p in box.data.iterdir())
        again, _ = box.window() if state is not None else (None, win)  # the next start: is the queue still there?
        valid = name == "valid"
        if not kept:
            outcome, detail = LOST, "the original bytes are gone"
        elif state is None:
            outcome, detail = CRASH, win.why()
        elif state["jobs"] != jobs or state["notice"] == valid:
            outcome, detail = WRONG, f"queue holds {state['jobs']} job(s), notice {state['notice']}"
        elif again is None or again["jobs"] != jobs:
            outcome, detail = LOST, f"the next start's queue holds {again and again['jobs']} of {jobs} job(s)"
        else:
            outcome, detail = ACCEPTED if valid else CLEAR, ", ".join(p.name for p in box.data.glob("queue.json*"))
        cases.append(Case("queue.json", name, outcome, detail))
    return cases


# --- 6. kill -9 during generate --num 40 -------------------------------------------------------------
def _wait_for(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> bool:
    """Poll until ``ready()`` or the process ends; False if it ran past ``timeout`` (a hang)."""
    import time

    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def generate_killed(root: Path) -> list[Case]:
    from studio.core.errors import StudioError
    from studio.store.pngmeta import read_settings

    box = Sandbox(root, "generate-kill")
    tiny_checkpoint(box.data / "checkpoints" / "tiny.safetensors")
    cases = []
    for after in (2, 17):  # within the first batch of 16, within the second
        out = box.dir / f"out-{after}"
        proc = box.popen(GENSTUDIO, "generate", "--checkpoint", "tiny", "--num", "40", "--steps", "100",
                         "--out", str(out), "--quiet")
        in_time = _wait_for(proc, lambda: len(list(out.glob("*.png"))) >= after)
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        reported = [Path(line) for line in stdout.splitlines() if line.endswith(".png")]
        bad = []
        for png in set(reported) | set(out.glob("*.png")):
            try:
                read_settings(png)
            except StudioError as e:
                bad.append(f"{png.name}: {e}")
        name = f"SIGKILL after {after} images"
        if bad:
            cases.append(Case("generate --num 40, kill -9", name, LOST, "; ".join(bad)[:300]))
        elif not in_time or proc.returncode not in (-signal.SIGKILL, 0):
            cases.append(Case("generate --num 40, kill -9", name, CRASH, stderr.strip()[-200:] or "hung"))
        else:
            cases.append(Case("generate --num 40, kill -9", name, ACCEPTED,
                              f"{len(reported)} reported, {len(list(out.glob('*.png')))} on disk, all readable; "
                              f"{len(list(out.glob('.*.tmp')))} tmp left"))
    return cases


# --- 7. kill -9 during training, then --resume --------------------------------------------------------
TRAIN = ["train", "vae", "--steps", "40", "--checkpoint-every", "4", "--limit", "64", "--batch-size", "16",
         "--precision", "fp32", "--device", "cpu", "--threads", "1", "--log-every", "4",
         "--sample-every", "1000000", "--quiet"]


def training(root: Path) -> list[Case]:
    import torch
    from safetensors.torch import load_file

    from studio.core.training.paths import state_path

    klass, name = "training, kill -9 + --resume", "SIGKILL after the first state save"
    if not (FMNIST / "train-labels-idx1-ubyte.gz").exists():
        return [Case(klass, name, "skipped", "Debian's dataset-fashion-mnist is not installed")]
    box = Sandbox(root, "train")
    cut, full = box.dir / "cut.safetensors", box.dir / "full.safetensors"
    killed = box.popen(GENSTUDIO, *TRAIN, "--out", str(cut))
    whole = box.popen(GENSTUDIO, *TRAIN, "--out", str(full))
    in_time = _wait_for(killed, state_path(cut).exists, timeout=240)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate()
    resumed = box.genstudio(*TRAIN, "--out", str(cut), "--resume", timeout=300)
    try:
        _, err = whole.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(whole.pid, signal.SIGKILL)
        return [Case(klass, name, CRASH, "the uninterrupted run hung")]
    if not in_time or whole.returncode != 0:
        return [Case(klass, name, CRASH, f"no state saved in time, or the plain run failed: {err[-200:]}")]
    if resumed.rc != 0 or not cut.is_file():
        return [Case(klass, name, LOST, f"resume failed: {resumed.why()}")]
    a, b = load_file(str(full)), load_file(str(cut))
    differ = sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or not torch.equal(a[k], b[k]))
    if differ:
        return [Case(klass, name, LOST, f"{len(differ)} tensors differ from the uninterrupted run: {differ[:3]}")]
    return [Case(klass, name, ACCEPTED, "resumed weights equal the uninterrupted run's")]


# --- the table ---------------------------------------------------------------------------------------
CLASSES: dict[str, Callable[[Path], list[Case]]] = {
    "init": init_images, "checkpoints": checkpoint_folder, "gallery": gallery, "settings": png_settings,
    "queue": queue, "generate": generate_killed, "train": training}


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", action="store_true", help="also list every case and what happened")
    p.add_argument("--only", nargs="+", choices=list(CLASSES), help="run only these classes")
    args = p.parse_args()
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        os.environ["GENSTUDIO_DATA_DIR"] = str(Path(tmp) / "parent-data")  # never the user's own data
        for key, fn in CLASSES.items():
            if not args.only or key in args.only:
                cases += fn(Path(tmp))
    rows = []
    for klass in dict.fromkeys(c.klass for c in cases):
        mine = [c for c in cases if c.klass == klass]
        rows.append((klass, len(mine), *(sum(c.outcome == o for c in mine) for o in OUTCOMES)))
    rows.append(("total", len(cases), *(sum(r[k] for r in rows) for k in range(2, 2 + len(OUTCOMES)))))
    print(table(rows, ("input class", "cases tried", "clear errors", "accepted correctly", "crashes", "data lost",
                       "wrong outcome")))
    shown = cases if args.verbose else [c for c in cases if c.outcome not in (CLEAR, ACCEPTED)]
    if shown:
        print()
        print(table([(c.klass, c.name, c.outcome, " ".join(c.detail.split())[:220]) for c in shown],
                    ("input class", "case", "outcome", "detail")))


if __name__ == "__main__":
    main()
