"""``genstudio doctor``: a line per area with OK / WARN / FAIL and what to do; a broken model of the
user's is a WARN naming it, a damaged shipped one or an unusable data folder a FAIL (exit 1); --json."""
from __future__ import annotations

import json

import pytest

from studio.cli import doctor, main
from tests.conftest import make_tiny_checkpoint

AREAS = ["python", "torch", "qt", "data folder", "shipped models", "models", "prompt encoder", "pipelines",
         "video export"]


def run_json(capsys) -> tuple[int, dict]:
    code = main(["doctor", "--json"])
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_doctor_checks_every_area_and_passes_here(data_dir, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if not line.startswith(" ")]
    assert all(line.split()[0] in ("OK", "WARN", "FAIL") for line in rows), out
    names = [c.name for c in doctor.run_checks()]
    assert all(area in names for area in AREAS), names
    for line in out.splitlines():  # every line not OK says what to do, on the line after it
        if line.startswith(("WARN", "FAIL")):
            following = out.splitlines()[out.splitlines().index(line) + 1]
            assert following.strip().startswith("-> "), out
    code, report = run_json(capsys)
    checks = by_name(report)
    assert code == 0 and report["ok"] is True
    assert checks["data folder"]["status"] == "OK" and str(data_dir) in checks["data folder"]["detail"]
    assert checks["qt"]["status"] == "OK" and "offscreen" in checks["qt"]["detail"]  # the tests run offscreen
    assert checks["prompt encoder"]["status"] == "OK"


def test_a_broken_model_of_the_user_is_a_warning_naming_it(tiny_ckpt, data_dir, capsys):
    (tiny_ckpt.parent / "junk.safetensors").write_bytes(b"\x01\x02")
    make_tiny_checkpoint(tiny_ckpt.parent / "bad-card.safetensors").with_suffix(".json").write_text("[1, 2]")
    assert main(["doctor"]) == 0, "the studio works without them"
    out = capsys.readouterr().out
    junk = next(line for line in out.splitlines() if "broken model junk" in line)
    assert junk.startswith("WARN") and str(tiny_ckpt.parent / "junk.safetensors") in junk
    code, report = run_json(capsys)
    checks = by_name(report)
    assert code == 0 and report["ok"] is True
    assert checks["broken model bad-card"]["status"] == "WARN"
    assert "must be a JSON object" in checks["broken model bad-card"]["detail"]
    assert "remove" in checks["broken model bad-card"]["fix"]
    assert "1 yours" in checks["models"]["detail"]


def test_a_damaged_shipped_model_fails(data_dir, tmp_path, monkeypatch, capsys):
    from studio.store import paths

    shipped = tmp_path / "shipped"
    make_tiny_checkpoint(shipped / "checkpoints" / "fine.safetensors")
    (shipped / "checkpoints" / "damaged.safetensors").write_bytes(b"\x00" * 16)
    monkeypatch.setattr(paths, "resources_dir", lambda: shipped)
    code, report = run_json(capsys)
    checks = by_name(report)
    assert code == 1 and report["ok"] is False
    assert checks["broken model damaged"]["status"] == "FAIL" and "reinstall" in checks["broken model damaged"]["fix"]
    assert checks["models"]["status"] == "OK" and "1 usable" in checks["models"]["detail"]


def test_no_models_at_all_fails(data_dir, tmp_path, monkeypatch, capsys):
    from studio.store import paths

    monkeypatch.setattr(paths, "resources_dir", lambda: tmp_path / "nothing")
    code, report = run_json(capsys)
    checks = by_name(report)
    assert code == 1
    assert checks["shipped models"]["status"] == "FAIL" and checks["models"]["status"] == "FAIL"


def test_a_data_folder_that_cannot_be_made_fails_without_a_traceback(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENSTUDIO_DATA_DIR", str(blocker / "data"))
    assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    line = next(line for line in captured.out.splitlines() if "data folder" in line)
    assert line.startswith("FAIL") and "Traceback" not in captured.err
    assert "GENSTUDIO_DATA_DIR" in captured.out


@pytest.mark.parametrize("platform, status", [("xcb", "FAIL"), ("offscreen", "WARN")])
def test_missing_x11_libraries_fail_only_where_x11_is_used(data_dir, monkeypatch, platform, status):
    monkeypatch.setenv("QT_QPA_PLATFORM", platform)
    monkeypatch.setattr(doctor, "_xcb_error", lambda qt_dir: "libxcb-cursor.so.0: cannot open shared object file")
    x11 = next(c for c in doctor.check_qt() if c.name == "qt-x11")
    assert x11.status == status and "libxcb-cursor.so.0" in x11.detail and "libxcb-cursor0" in x11.fix


def test_a_check_that_breaks_is_a_failure_line_not_a_crash(data_dir, monkeypatch, capsys):
    def broken() -> list:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "CHECKS", [*doctor.CHECKS[:1], ("torch", broken)])
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("FAIL") and "RuntimeError: boom" in line for line in out.splitlines()), out
