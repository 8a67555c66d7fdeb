"""studio.core must import and work with Qt absent (the napari rule)."""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_imports_without_qt():
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'superqt', 'qtpy', 'pyqtgraph'):
                    raise ImportError('Qt is blocked in this test: ' + name)
        sys.meta_path.insert(0, Block())
        import studio.core
        for m in pkgutil.walk_packages(studio.core.__path__, 'studio.core.'):
            importlib.import_module(m.name)
        print('ok')
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_gui_start_up_modules_do_not_import_torch():
    """The window must come up before torch loads (it loads on a worker thread)."""
    code = ("import sys; import studio.ui.main_window, studio.ui.app; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**__import__('os').environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _tool(name: str) -> str:
    """A test dependency's console script, beside this interpreter (never skipped: CI installs it)."""
    exe = Path(sys.executable).parent / name
    assert exe.exists(), f"{name} is a test dependency: pip install -e '.[test]'"
    return str(exe)


def test_import_linter_contracts_hold():
    """Core free of Qt/UI/workers/store/CLI; store free of Qt/UI; workers free of the UI; CLI free of
    Qt/UI/workers; no family imports another (pyproject.toml lists the contracts)."""
    out = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout and " kept" in out.stdout


def test_ruff_finds_nothing():
    out = subprocess.run([_tool("ruff"), "check", "studio", "tests", "benchmarks"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_caller_names_a_family_or_probes_a_model():
    """What a family can do is declared (catalog, Family): outside a family's own folder and the
    catalog, nothing compares family names or asks a model what it has with hasattr/getattr."""
    switch = re.compile(r"""(==|!=|\bin\b)\s*\(?['"](vae|gan|diffusion|autoregressive)['"]|"""
                        r"""\b(hasattr|getattr)\((self\.)?(model|m|family)\b""")
    offenders = []
    for path in (ROOT / "studio").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("studio/core/families/") or rel == "studio/core/catalog.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if switch.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_every_family_is_one_folder_named_in_the_catalog():
    from studio.core.catalog import CATALOG

    for name, info in CATALOG.items():
        folder = ROOT / Path(*info.module.split("."))
        assert (folder / "family.py").is_file() and (folder / "recipes.py").is_file(), name
        assert info.module == f"studio.core.families.{name}"
