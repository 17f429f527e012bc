"""No user file is ever deleted or overwritten by an output folder, and a killed run leaves the previous one intact.

Pins issue 15 item 1 and 5: ``--out`` must be absent, empty or an earlier sclcmeta output; anything else is
refused before any work starts; the swap is atomic; two writers cannot interleave; SIGKILL at any point leaves
the previous output in place, and the next run removes the debris.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sclcmeta.cli import main
from sclcmeta.report.atomic import MARKER, OutputError, OutputFolder


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _debris(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.sclcmeta"))


def test_report_refuses_a_folder_holding_a_user_file_and_leaves_it_untouched(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["report", "--out", str(out), "--no-progress", "--no-sensitivity"]) == 2
    assert "did not write (notes.txt)" in capsys.readouterr().err
    assert _snapshot(out) == {"notes.txt": b"my notes"}
    assert _debris(tmp_path, "mine") == []


def test_report_refuses_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.csv").write_text("a\n")
    assert main(["report", "--out", ".", "--no-progress", "--no-sensitivity"]) == 2
    assert "current folder" in capsys.readouterr().err
    assert (tmp_path / "keep.csv").read_text() == "a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


def test_report_refuses_a_file_as_out_without_renaming_it(tmp_path, capsys):
    f = tmp_path / "report.html"
    f.write_text("<p>mine</p>")
    assert main(["report", "--out", str(f), "--no-progress", "--no-sensitivity"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert f.read_text() == "<p>mine</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


@pytest.mark.parametrize("cmd", [["fit", "--data", "{csv}", "--method", "exact"], ["sensitivity", "{spec}"]])
def test_fit_and_sensitivity_refuse_an_out_holding_user_files_before_any_work(tmp_path, write_csv, cmd, capsys):
    from sclcmeta.paths import models_dir

    csv = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high\nA,t,c,OS,0.7,0.5,0.9\nB,t,c,OS,0.8,0.6,1.1")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("mine")
    argv = [a.format(csv=csv, spec=models_dir() / "q1_continuation_os.toml") for a in cmd] + ["--out", str(out)]
    assert main(argv) == 2
    assert "did not write" in capsys.readouterr().err
    assert (out / "summary.csv").read_text() == "mine"


def test_an_earlier_output_is_replaced_whole_and_a_file_added_to_it_is_protected(tmp_path):
    out = tmp_path / "rep"
    with OutputFolder(out) as tmp:
        (tmp / "a.txt").write_text("1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("2")
    assert set(_snapshot(out)) == {"a.txt", "sub/b.txt", MARKER}
    with OutputFolder(out) as tmp:
        (tmp / "c.txt").write_text("3")
    assert set(_snapshot(out)) == {"c.txt", MARKER}
    (out / "added_by_me.txt").write_text("keep")
    with pytest.raises(OutputError, match="added_by_me.txt"):
        OutputFolder(out)
    assert (out / "added_by_me.txt").read_text() == "keep"
    assert _debris(tmp_path, "rep") == []


def test_output_folder_gets_the_users_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with OutputFolder(tmp_path / "rep") as tmp:
            (tmp / "x").write_text("")
    finally:
        os.umask(old)
    assert (tmp_path / "rep").stat().st_mode & 0o777 == 0o755


def test_a_failed_write_leaves_the_previous_output_and_no_temp_folder(tmp_path):
    out = tmp_path / "rep"
    with OutputFolder(out) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with OutputFolder(out) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash while writing")
    assert (out / "a.txt").read_text() == "old"
    assert _debris(tmp_path, "rep") == []


def test_two_writers_into_one_out_cannot_interleave(tmp_path):
    first = OutputFolder(tmp_path / "rep")
    try:
        with pytest.raises(OutputError, match="another sclcmeta run"):
            OutputFolder(tmp_path / "rep")
    finally:
        first.close()
    OutputFolder(tmp_path / "rep").close()   # free again once the first writer is done


def test_unwritable_out_is_refused_before_work(tmp_path):
    """A folder without write permission (an ordinary user; root bypasses permission bits)."""
    if os.geteuid() == 0:
        pytest.skip("root bypasses permission bits; see the read-only file system and regular-file tests below")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(OutputError, match="no write permission"):
        OutputFolder(ro / "rep")


#: A kernel file system where no one, root included, can create a folder (mkdir gives EACCES/EROFS for root too).
_UNWRITABLE_FOR_ROOT = Path("/proc/sys")


def test_out_below_a_folder_even_root_cannot_write_is_refused_before_any_work(tmp_path, write_csv, capsys):
    if not _UNWRITABLE_FOR_ROOT.is_dir() or os.access(_UNWRITABLE_FOR_ROOT, os.W_OK):
        pytest.skip("needs Linux /proc/sys (a folder no user can create entries in)")
    out = _UNWRITABLE_FOR_ROOT / "sclcmeta-out"
    with pytest.raises(OSError):          # the ground truth: this folder really cannot be created, by anyone
        out.mkdir()
    with pytest.raises(OutputError, match="no write permission"):
        OutputFolder(out)
    csv = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high\nA,t,c,OS,0.7,0.5,0.98\n")
    assert main(["fit", "--data", str(csv), "--method", "exact", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and "Traceback" not in err


def test_out_below_a_regular_file_is_refused_before_any_work(tmp_path, write_csv, capsys):
    """Works as root too: no permission bit lets anyone create a folder inside a regular file."""
    blocker = tmp_path / "results.txt"
    blocker.write_text("mine")
    csv = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high\nA,t,c,OS,0.7,0.5,0.98\n")
    assert main(["fit", "--data", str(csv), "--method", "exact", "--out", str(blocker / "rep")]) == 2
    assert "is a file, so the folder cannot be created there" in capsys.readouterr().err
    assert blocker.read_text() == "mine"


_CHILD = textwrap.dedent("""
    import shutil, sys, time
    from pathlib import Path
    from sclcmeta.report.atomic import OutputFolder
    out, stage = Path(sys.argv[1]), sys.argv[2]
    if stage == "after_swap":
        real = shutil.rmtree
        def slow(p, *a, **k):
            print("swapped", flush=True); time.sleep(60)
        shutil.rmtree = slow
    f = OutputFolder(out)
    print("locked", flush=True)
    if stage == "locked":
        time.sleep(60)
    with f as tmp:
        (tmp / "a.txt").write_text("new")
        print("writing", flush=True)
        if stage == "writing":
            time.sleep(60)
    print("done", flush=True)
""")


@pytest.mark.parametrize("stage", ["locked", "writing", "after_swap"])
def test_sigkill_at_any_point_leaves_a_complete_report_and_the_next_run_removes_the_debris(tmp_path, stage):
    out = tmp_path / "rep"
    with OutputFolder(out) as tmp:
        (tmp / "a.txt").write_text("old")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(out), stage], stdout=subprocess.PIPE, text=True)
    wanted = {"locked": "locked", "writing": "writing", "after_swap": "swapped"}[stage]
    for line in proc.stdout:
        if line.strip() == wanted:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    text = (out / "a.txt").read_text()
    assert text == ("new" if stage == "after_swap" else "old")      # always one complete version
    assert set(_snapshot(out)) == {"a.txt", MARKER}
    with OutputFolder(out) as tmp:                                    # the next run cleans up and writes
        (tmp / "a.txt").write_text("next")
    assert (out / "a.txt").read_text() == "next"
    assert _debris(tmp_path, "rep") == []
