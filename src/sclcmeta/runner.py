"""Run many independent tasks with dask.distributed: a local cluster by default, any Dask cluster by address.

One function, :func:`run_tasks`, runs ``fn(item, **shared, **kwargs)`` for every item and returns one
:class:`TaskOutcome` per item, in the items' order, whether the task returned or raised. The multiverse
(:mod:`sclcmeta.analyses.multiverse`) and the simulation-based calibration
(:mod:`sclcmeta.analyses.calibration`) both submit through it. It imports nothing of the pipeline (Dask
only when a cluster is used), so the command line checks ``--scheduler`` / ``--workers`` before loading
the analysis stack.

Where the tasks run (``scheduler``):

``None``
    a :class:`distributed.LocalCluster` started for this call and closed after it: worker *processes*
    (one thread each, so numpy/numba in one task never competes with another task for a core), as many as
    this process may use cores (:func:`default_workers`), or ``workers``;
``"tcp://host:8786"``
    the scheduler of a running Dask cluster (``dask scheduler`` and ``dask worker tcp://host:8786`` on the
    machines; every worker needs sclcmeta installed);
a :class:`distributed.Client`
    an open client (a notebook's, or a test's), left open;
``"synchronous"``
    no Dask at all: the tasks run one after another in this process (the plain loop the others must equal).

Objects in ``shared`` (e.g. the evidence table) are sent to every worker once (``Client.scatter``), not
once per task. A task that raises does not stop the others: its outcome carries the error text.

Examples
--------
>>> from sclcmeta.runner import run_tasks
>>> [o.value for o in run_tasks(abs, [-1, 2, -3], scheduler="synchronous")]
[1, 2, 3]
>>> run_tasks(int, ["7", "x"], scheduler="synchronous")[1].error
"ValueError: invalid literal for int() with base 10: 'x'"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import SclcmetaError

#: ``scheduler`` value that runs every task in this process, one after another, without Dask.
SYNCHRONOUS = "synchronous"

#: How long to wait for the scheduler named by an address before giving up with an error.
CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class TaskOutcome:
    """What one task gave: its ``value``, or the ``error`` it raised (``"ExceptionType: message"``)."""

    index: int
    item: Any
    value: Any = None
    error: str = ""
    #: True when the error is one of the package's own (:class:`~sclcmeta.errors.SclcmetaError`): the task's
    #: input was refused with a reason (e.g. a meta-regression whose covariate no longer varies), not a crash
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


def default_workers() -> int:
    """Worker processes of a local cluster: one per core this process may run on (2 on a 2-core machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                           # not Linux
        return max(1, os.cpu_count() or 1)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_scheduler(scheduler, workers: int | None) -> None:
    """Refuse settings that cannot mean anything, before any work starts (the CLI calls this first)."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise SclcmetaError(f"workers must be a whole number of 1 or more; got {workers!r}.")
    if scheduler is None:
        return
    if isinstance(scheduler, str):
        if scheduler == SYNCHRONOUS:
            if workers is not None:
                raise SclcmetaError("workers: the synchronous scheduler runs every task in this process; "
                                    "leave out workers (or drop scheduler='synchronous' for a local cluster).")
            return
        if "://" not in scheduler and ":" not in scheduler:
            raise SclcmetaError(f"scheduler {scheduler!r} is not a scheduler address; give one like "
                                "tcp://host:8786 (what `dask scheduler` prints), or 'synchronous'.")
    if workers is not None:
        raise SclcmetaError("workers sets the size of the local cluster started when no scheduler is given; a "
                            "running cluster has the workers it was started with (add some with `dask worker "
                            "ADDRESS`).")


def describe(scheduler, workers: int | None = None) -> str:
    """Where ``run_tasks(..., scheduler, workers)`` runs, in words (for progress lines and benchmark tables)."""
    if scheduler is None:
        n = workers or default_workers()
        return f"local Dask cluster, {n} worker process{'es' if n > 1 else ''}"
    if isinstance(scheduler, str):
        return "this process, one task after another" if scheduler == SYNCHRONOUS else f"Dask scheduler {scheduler}"
    return f"Dask client {scheduler!r}"


def _connect(scheduler, workers: int | None):
    """``(client, owned)``: the client to submit through, and whether this call must close it."""
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
        return Client(cluster), True
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT), True
        except (OSError, TimeoutError, ValueError) as exc:
            raise SclcmetaError(f"could not reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} "
                                f"({_error_text(exc)}); start one with `dask scheduler` (and workers with `dask "
                                f"worker {scheduler}`), or give no scheduler to use a local cluster.") from None
    return scheduler, False


def run_batch(fn: Callable, batch: list[tuple[int, Any]], **kw) -> list[tuple[int, Any, str, bool]]:
    """Run ``fn(item, **kw)`` for each ``(index, item)`` of one Dask task: ``(index, value, error, refused)``.

    Every item is tried, so an item that raises costs only its own result, as in the plain loop.
    """
    out = []
    for i, it in batch:
        try:
            out.append((i, fn(it, **kw), "", False))
        except Exception as exc:                        # noqa: BLE001 - reported with its item, never re-raised
            out.append((i, None, _error_text(exc), isinstance(exc, SclcmetaError)))
    return out


def batches(n: int, slots: int, batch_size: int | None = None) -> list[range]:
    """Item ranges of the Dask tasks: ``batch_size`` items each, or about 8 tasks per worker thread (``slots``).

    Several settings per task keep Dask's per-task cost (scheduling, messages: milliseconds) small next to
    fits that take milliseconds themselves, while leaving enough tasks to balance the load.

    >>> [len(b) for b in batches(10, slots=1)]
    [2, 2, 2, 2, 2]
    >>> [len(b) for b in batches(3, slots=2, batch_size=1)]
    [1, 1, 1]
    """
    size = batch_size or max(1, -(-n // (8 * max(1, slots))))
    return [range(a, min(n, a + size)) for a in range(0, n, size)]


def run_tasks(fn: Callable, items: Iterable, *, shared: Mapping[str, Any] | None = None,
              kwargs: Mapping[str, Any] | None = None, scheduler=None, workers: int | None = None,
              progress: bool = False, desc: str = "tasks", batch_size: int | None = None) -> list[TaskOutcome]:
    """``fn(item, **shared, **kwargs)`` for every item, on ``scheduler`` (module docstring), in the items' order.

    ``shared`` holds large objects sent to every worker once; ``kwargs`` small ones sent with each task.
    ``fn`` must be importable by the workers (a module-level function of an installed package), and its
    items and results picklable. Items go to the workers in batches (:func:`batches`; ``batch_size`` 1 makes
    every item its own Dask task). ``progress`` shows a tqdm bar advancing as items finish.
    """
    items = list(items)
    shared = dict(shared or {})
    kwargs = dict(kwargs or {})
    check_scheduler(scheduler, workers)
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise SclcmetaError(f"batch_size must be a whole number of 1 or more; got {batch_size!r}.")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, unit="task", disable=not progress, leave=False)
    outcomes: list[TaskOutcome | None] = [None] * len(items)

    def record(results):
        for i, value, error, refused in results:
            outcomes[i] = TaskOutcome(i, items[i], value=value, error=error, refused=refused)
        bar.update(len(results))

    if scheduler == SYNCHRONOUS:
        with bar:
            for i, it in enumerate(items):
                record(run_batch(fn, [(i, it)], **shared, **kwargs))
        return outcomes
    from dask.distributed import as_completed

    client, owned = _connect(scheduler, workers)
    futures = []
    try:
        scattered = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
        slots = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        parts = batches(len(items), slots, batch_size)
        futures = [client.submit(run_batch, fn, [(i, items[i]) for i in part], **scattered, **kwargs, pure=False,
                                 key=f"{desc}-{part.start}-{os.urandom(4).hex()}") for part in parts]
        members = {f.key: part for f, part in zip(futures, parts)}
        with bar:
            for fut in as_completed(futures):
                part = members[fut.key]
                if fut.status == "finished":
                    record(fut.result())
                else:                                    # the task itself failed: a worker lost, or unpicklable
                    why = (_error_text(fut.exception()) if fut.status == "error" else
                           "CancelledError: the task was cancelled by the cluster (a worker was lost or shut down)")
                    record([(i, None, why, False) for i in part])
                fut.release()
    finally:
        if futures:
            client.cancel([f for f in futures if not f.done()])
        if owned:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    return outcomes
