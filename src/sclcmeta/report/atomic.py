"""Output folders that never lose a user's file: checked before work, written aside, swapped in atomically.

Every command that writes a folder (``report --out``, ``fit --out``, ``sensitivity --out``) goes through
:class:`OutputFolder`:

* **Checked before any work starts.** ``--out`` must be absent, empty, or a folder this package wrote
  before (it holds the marker file :data:`MARKER`, which lists every file the package wrote). A file, a
  folder holding anything else (a user's file, or a file added to an old report), the current directory
  or one of its parents, and a folder that cannot be written are refused with a sentence saying why.
* **Written aside.** Outputs go to a hidden sibling ``.NAME.sclcmeta-tmp-PID-XXXX`` created with the
  user's usual permissions (umask), never into ``--out`` itself.
* **Swapped in atomically.** On Linux the finished folder and the old one are exchanged in one system call
  (``renameat2(RENAME_EXCHANGE)``), so at every instant ``--out`` holds either the complete old report or
  the complete new one; elsewhere two renames are used and an interrupted swap is repaired by the next run.
* **One writer at a time.** A lock (``flock`` on ``.NAME.sclcmeta-lock``) refuses a second concurrent run
  into the same ``--out``; the kernel releases it when a process dies, so no stale lock survives a crash.
* **No debris.** A run killed at any point (even SIGKILL) leaves ``--out`` as it was; the hidden temp
  folder it leaves is removed by the next run into the same place (it is recognised by the dead process id
  in its name), together with the old copy of an interrupted swap.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import SclcmetaError

#: Name of the marker file written into every output folder (JSON: package, version, files).
MARKER = ".sclcmeta-output.json"
_TMP = ".{name}.sclcmeta-tmp-"
_OLD = ".{name}.sclcmeta-old-"
_RENAME_EXCHANGE = 2


class OutputError(SclcmetaError):
    """``--out`` cannot be used: it would overwrite a user's file, or it cannot be written."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listed_files(folder: Path) -> set[str] | None:
    """Files the package wrote into ``folder`` (from its marker), or None if it is not ours."""
    m = folder / MARKER
    if not m.is_file():
        return None
    try:
        doc = json.loads(m.read_text(encoding="utf-8"))
        return set(doc["files"]) | {MARKER}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _all_files(folder: Path) -> set[str]:
    out = set()
    for p in folder.rglob("*"):
        if p.is_file() or p.is_symlink():
            out.add(p.relative_to(folder).as_posix())
    return out


def check_target(out: Path, what: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``out`` may be (re)written without losing a user's file."""
    out = Path(out)
    here = Path.cwd().resolve()
    res = out.resolve()
    if res == here or res in here.parents:
        raise OutputError(f"{what} {str(out)!r} is the current folder or one of its parents; sclcmeta replaces the "
                          "whole output folder, so give a new or empty folder such as sclcmeta-report.")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{what} {str(out)!r} is a file, not a folder; give a new or empty folder (nothing was "
                          "written, and the file was left as it is).")
    if out.is_dir():
        present = _all_files(out)
        if present:
            ours = _listed_files(out)
            if ours is None:
                sample = ", ".join(sorted(present)[:3])
                raise OutputError(f"{what} {str(out)!r} holds files that sclcmeta did not write ({sample}"
                                  f"{', ...' if len(present) > 3 else ''}); sclcmeta replaces its output folder "
                                  "whole, so give a new or empty folder (nothing was changed).")
            extra = sorted(present - ours)
            if extra:
                raise OutputError(f"{what} {str(out)!r} is an earlier sclcmeta output, but it also holds "
                                  f"{', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}, which sclcmeta did not "
                                  "write; move those files out or choose another folder (nothing was changed).")
    parent = res.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{what} {str(out)!r}: {str(parent)!r} is a file, so the folder cannot be created there.")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {str(out)!r} cannot be written: no write permission in {str(probe)!r}; choose a "
                          "folder you can write to.")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the call is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD = -100
    rc = fn(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):          # kernel or filesystem without exchange
        return False
    raise OSError(e, os.strerror(e), str(a))


class OutputFolder:
    """Context manager: ``with OutputFolder(out) as tmp: write into tmp`` then the folder is swapped in.

    The target is checked and the lock taken in the constructor, so a bad ``--out`` fails before any
    analysis runs. Leaving the ``with`` block normally publishes the folder; an exception (or a signal)
    leaves the previous contents of ``out`` untouched and removes the temporary folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "result"
    >>> with OutputFolder(out) as tmp:
    ...     _ = (tmp / "summary.csv").write_text("a,b\\n")
    >>> sorted(p.name for p in out.iterdir())
    ['.sclcmeta-output.json', 'summary.csv']
    """

    def __init__(self, out: str | Path, *, what: str = "--out", version: str = ""):
        self.out = Path(os.path.abspath(out))
        self.what = what
        self.version = version
        check_target(self.out, what)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.out.parent / f".{self.out.name}.sclcmeta-lock"
        self._lock_fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise OutputError(f"{what} {str(out)!r}: another sclcmeta run is writing there right now; wait for it to "
                              "finish or choose another folder.") from None
        self._locked = True
        self.tmp: Path | None = None
        try:
            self._recover()
            check_target(self.out, what)   # again, under the lock
        except BaseException:
            self.close()
            raise

    # -- crash recovery -------------------------------------------------------------------------
    def _debris(self, pattern: str) -> list[tuple[Path, int]]:
        prefix = pattern.format(name=self.out.name)
        found = []
        for p in self.out.parent.iterdir():
            if p.name.startswith(prefix):
                m = re.match(r"(\d+)-", p.name[len(prefix):])
                if m:
                    found.append((p, int(m.group(1))))
        return found

    def _recover(self) -> None:
        """Remove what killed runs left: temp folders of dead processes; restore an interrupted swap."""
        for p, pid in self._debris(_OLD):
            if pid != os.getpid() and not _pid_alive(pid):
                if not self.out.exists():
                    p.rename(self.out)          # swap interrupted between the two renames: put the old one back
                else:
                    shutil.rmtree(p, ignore_errors=True)
        for p, pid in self._debris(_TMP):
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(p, ignore_errors=True)

    # -- writing ----------------------------------------------------------------------------------
    def __enter__(self) -> Path:
        prefix = _TMP.format(name=self.out.name) + f"{os.getpid()}-"
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=self.out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self._publish()
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            self.close()
        return False

    def _publish(self) -> None:
        files = sorted(_all_files(self.tmp) - {MARKER})
        (self.tmp / MARKER).write_text(json.dumps({"written_by": "sclcmeta", "version": self.version,
                                                   "files": files}, indent=1), encoding="utf-8")
        if self.out.exists():
            if _exchange(self.tmp, self.out):
                shutil.rmtree(self.tmp, ignore_errors=True)   # now holds the previous report
                return
            old = self.out.parent / (_OLD.format(name=self.out.name) + f"{os.getpid()}-old")
            self.out.rename(old)
            self.tmp.rename(self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.tmp.rename(self.out)

    def close(self) -> None:
        """Release the lock without publishing (idempotent); the previous contents of ``out`` stay."""
        if not getattr(self, "_locked", False):
            return
        self._locked = False
        try:
            os.unlink(self._lock_path)
        except OSError:
            pass
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
