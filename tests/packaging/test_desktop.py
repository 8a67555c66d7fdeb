"""The desktop entry: the .desktop file's keys, the AppStream metainfo's required fields, the install
script (idempotent, --uninstall), and the names and icon the app gives itself to match them."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from PIL import Image

from studio import __version__
from studio.store.paths import APP_ID, icon_file

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_desktop_file_keys():
    entry = desktop_entry(DESKTOP)
    assert entry["Type"] == "Application" and entry["Name"] == "Generative Studio"
    assert entry["Exec"] == "genstudio-gui" and entry["TryExec"] == "genstudio-gui"
    assert entry["Icon"] == APP_ID, "the icon is installed under the app id"
    categories = entry["Categories"].split(";")
    assert categories[-1] == "" and "Graphics" in categories, "a ;-terminated list with a main category"
    assert entry["Terminal"] == "false"
    assert entry["Exec"] in {ep.name for ep in entry_points(group="gui_scripts")}, "the installed window's command"


def test_metainfo_required_fields():
    root = ET.parse(METAINFO).getroot()  # well-formed, or this raises
    assert root.tag == "component" and root.get("type") == "desktop-application"
    text = {tag: (root.findtext(tag) or "").strip() for tag in ("id", "name", "summary", "metadata_license",
                                                                 "project_license")}
    assert text["id"] == APP_ID and text["name"] == "Generative Studio" and all(text.values()), text
    assert root.find("description/p") is not None
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert "genstudio-gui" in [b.text for b in root.findall("provides/binary")]
    assert root.find("content_rating").get("type", "").startswith("oars-")
    assert __version__ in [r.get("version") for r in root.findall("releases/release")], "the current version is listed"


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli is not installed")
def test_metainfo_passes_appstreamcli():
    out = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_icons_are_the_rendered_svg():
    ET.parse(icon_file())  # the SVG is well-formed XML
    for size in (48, 128, 256):
        with Image.open(icon_file(size)) as png:
            assert png.size == (size, size) and png.mode == "RGBA"
            assert png.getextrema()[3] == (0, 255), "opaque art on a transparent square"


def files(data: Path) -> list[Path]:
    """What is under ``data``, less the caches the desktop's tools keep there (when they are installed)."""
    return sorted(p for p in data.rglob("*") if p.is_file() and p.name not in ("mimeinfo.cache", "icon-theme.cache"))


def install(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    return subprocess.run(["bash", str(ROOT / "packaging" / "install-desktop.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_script_installs_for_the_user_idempotently_and_uninstalls(tmp_path):
    exe = tmp_path / "my bin" / "genstudio-gui"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "share"
    installed = [data / "applications" / DESKTOP.name, data / "metainfo" / METAINFO.name,
                 data / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg",
                 *(data / f"icons/hicolor/{s}x{s}/apps" / f"{APP_ID}.png" for s in (48, 128, 256))]
    for _ in range(2):  # a second run updates in place
        out = install(data, "--exec", str(exe))
        assert out.returncode == 0, out.stderr
        assert all(p.is_file() for p in installed)
    entry = desktop_entry(installed[0])
    assert entry["Exec"] == f'"{exe}"' and entry["TryExec"] == str(exe), "the full path, quoted for its space"
    assert entry["Icon"] == APP_ID
    assert installed[-1].read_bytes() == icon_file(256).read_bytes()
    assert files(data) == sorted(installed), "nothing else is written"

    for _ in range(2):
        out = install(data, "--uninstall")
        assert out.returncode == 0, out.stderr
    assert files(data) == []


def test_install_script_refuses_a_missing_program(tmp_path):
    out = install(tmp_path / "share", "--exec", str(tmp_path / "nothing-here"))
    assert out.returncode == 1 and "not an executable genstudio-gui" in out.stderr
    assert not (tmp_path / "share").exists()


def test_the_app_sets_its_names_and_icon(qapp):
    from studio.ui.app import configure

    saved = (qapp.applicationName(), qapp.applicationDisplayName(), qapp.desktopFileName(), qapp.windowIcon())
    try:
        configure(qapp)
        assert qapp.applicationName() == "generative-studio"
        assert qapp.applicationDisplayName() == "Generative Studio"
        assert qapp.desktopFileName() == APP_ID == DESKTOP.stem
        icon = qapp.windowIcon()
        assert not icon.isNull()
        assert {s.width() for s in icon.availableSizes()} >= {48, 128, 256}
        assert not icon.pixmap(64, 64).toImage().isNull()
    finally:
        qapp.setApplicationName(saved[0])
        qapp.setApplicationDisplayName(saved[1])
        qapp.setDesktopFileName(saved[2])
        qapp.setWindowIcon(saved[3])
