"""The README's examples work as printed: its Python examples run in a fresh folder outside the clone, and every
command-line example is valid shell that sclcmeta's own parser accepts (issue 14, item 6)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import sclcmeta
from sclcmeta.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(lang: str, section: str) -> list[str]:
    body = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", body, flags=re.S)


def _run_in_fresh_folder(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # the package as installed (this tree when run with PYTHONPATH=src): never the clone's relative paths
    env["PYTHONPATH"] = str(Path(sclcmeta.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def test_readme_python_examples_run_in_a_fresh_folder_outside_the_clone(tmp_path):
    """Both Python examples (the API tour and "Bring your own review"), each as printed, in one fresh process."""
    codes = [c for section in ("Python API", "Bring your own review") for c in _blocks("python", section)]
    assert len(codes) == 2
    clone = Path(__file__).resolve().parents[1]
    assert clone not in tmp_path.resolve().parents and tmp_path.resolve() != clone
    script = "".join(f"exec(compile({c!r}, 'README example {i + 1}', 'exec'), {{}})\nprint('README-EXAMPLE-{i + 1}')\n"
                     for i, c in enumerate(codes))
    done = _run_in_fresh_folder(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "README-EXAMPLE-1" in done.stdout and "README-EXAMPLE-2" in done.stdout
    assert (tmp_path / "review.csv").exists()          # the second example wrote its CSV here, not in the clone


def test_every_readme_command_line_example_is_valid_shell_and_parses():
    lines = [ln.split("  #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
             for ln in block.splitlines()]
    commands = [ln for ln in lines if ln.startswith("sclcmeta ")]
    assert len(commands) >= 10
    for cmd in commands:
        assert subprocess.run(["bash", "-n", "-c", cmd]).returncode == 0, cmd
        argv = shlex.split(cmd)[1:]
        build_parser().parse_args(argv)      # exits (SystemExit) on an option sclcmeta does not have


def test_readme_bias_example_runs_outside_the_clone(tmp_path):
    (code,) = _blocks("python", "Which analysis answers which question")
    done = _run_in_fresh_folder(code + "\nprint(res.summary().query(\"quantity == 'pooled'\")['bias'].tolist())\n", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "['adjusted', 'unadjusted']" in done.stdout
