"""Execute every notebook in notebooks/ top to bottom (nbclient), as CI does.

One test per notebook file, run with cwd = notebooks/. A notebook that samples (calls MCMC) is
marked ``mcmc``. A failing cell fails the test with the notebook name, the cell number, its source
and the error. Outputs are never written back: the notebooks are stored without outputs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 600  # seconds per cell
KERNEL = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NotebookFailure(AssertionError):
    """A cell raised (or timed out); the message names the cell and shows its source and traceback."""


def _samples(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    return any('method="mcmc"' in c.source or "method='mcmc'" in c.source
               for c in nb.cells if c.cell_type == "code")


def _params():
    out = []
    for p in sorted(NOTEBOOKS.glob("*.ipynb")):
        marks = [pytest.mark.mcmc] if _samples(p) else []
        out.append(pytest.param(p.name, marks=marks, id=p.stem))
    return out


def _ensure_kernel() -> None:
    """Make sure a ``python3`` kernelspec exists (a fresh environment may lack one).

    jupyter_client launches a spec whose argv starts with ``python`` with this interpreter
    (``sys.executable``), so the notebooks run against the sclcmeta installed here.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install

        install(user=True)


def run_notebook(path: Path, cwd: Path = NOTEBOOKS) -> float:
    """Execute ``path`` in a fresh kernel; return the wall time, or raise :class:`NotebookFailure`."""
    _ensure_kernel()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, allow_errors=False,
                                     resources={"metadata": {"path": str(cwd)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        for i, cell in enumerate(nb.cells):
            err = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
            if err is not None:
                tb = _ANSI.sub("", "\n".join(err.get("traceback", [])))
                raise NotebookFailure(f"{path.name}: cell {i} raised {exc.ename}: {exc.evalue}\n"
                                      f"--- cell {i} source ---\n{cell.source}\n--- traceback ---\n{tb}") from None
        raise NotebookFailure(f"{path.name}: {exc}") from None
    except nbclient.exceptions.CellTimeoutError as exc:
        raise NotebookFailure(f"{path.name}: a cell exceeded {CELL_TIMEOUT} s: {exc}") from None
    return time.perf_counter() - t0


def test_notebooks_are_stored_without_outputs():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert paths, f"no notebooks in {NOTEBOOKS}"
    dirty = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        nbformat.validate(nb)
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and (c.outputs or c.execution_count is not None):
                dirty.append(f"{p.name} cell {i}")
    assert not dirty, "notebooks must be stored with cleared outputs: " + ", ".join(dirty)


def test_runner_reports_the_failing_cell(tmp_path):
    """The harness itself can fail: a raising cell is reported with its index, source and error."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("text"),
                nbformat.v4.new_code_cell("y = x / 0  # deliberately broken")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(NotebookFailure) as info:
        run_notebook(path, cwd=tmp_path)
    msg = str(info.value)
    assert "cell 2 raised ZeroDivisionError" in msg
    assert "y = x / 0  # deliberately broken" in msg


@pytest.mark.parametrize("name", _params())
def test_notebook_runs(name):
    try:
        seconds = run_notebook(NOTEBOOKS / name)
    except NotebookFailure as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"{name}: executed in {seconds:.1f} s")
