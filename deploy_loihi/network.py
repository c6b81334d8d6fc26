"""Build, run and read back the Lava networks (Lava's CPU simulation, ``Loihi2SimCfg``).

Every runner calls ``.stop()`` in a ``finally`` block. Lava's runtime can hang forever when a
model raises inside a worker process, so callers that must not hang (tests, the CLI) wrap these
functions with a hard timeout (``pytest-timeout``, or :func:`run_with_deadline`).
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

import deploy_loihi  # noqa: F401  (installs the Python 3.11 fix before Lava is imported)
from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, PROJECTION_WEIGHT, PROJECTION_WEIGHT_EXP

_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def prepare_lava_runtime() -> None:
    """Import Lava's message infrastructure, which calls ``multiprocessing.set_start_method("fork")``.

    That call raises ``RuntimeError: context has already been set`` when another library fixed
    the start method first (``get_start_method()`` does so). Importing it early (this module does
    at import time) avoids that; if the method is already ``"fork"`` the call is made harmless.
    """
    import sys

    if _LAVA_MP in sys.modules:
        return
    current = mp.get_start_method(allow_none=True)
    if current not in (None, "fork"):
        raise RuntimeError(f"Lava's CPU runtime needs the 'fork' start method; this process uses {current!r}")
    if current == "fork":
        mp.set_start_method(None, force=True)  # Lava sets it back to "fork" right away
    try:
        __import__(_LAVA_MP)
    except ImportError:
        pass  # lava-nc absent: the runners raise when used


prepare_lava_runtime()


class Precision(str, Enum):
    """Which process models Lava runs: real-valued or bit-accurate Loihi 2 fixed point."""

    FLOATING = "floating_pt"
    FIXED = "fixed_pt"


def _cfg(precision: Precision | str):
    from lava.magma.core.run_configs import Loihi2SimCfg

    try:
        tag = Precision(precision).value
    except ValueError:
        raise ValueError(f"precision must be one of {[p.value for p in Precision]}, got {precision!r}") from None
    return Loihi2SimCfg(select_tag=tag)


def _run(root, num_steps: int, precision: Precision | str, read: Callable[[], Any]) -> tuple[Any, float]:
    from lava.magma.core.run_conditions import RunSteps

    cfg = _cfg(precision)
    t0 = time.perf_counter()
    try:
        root.run(condition=RunSteps(num_steps=int(num_steps)), run_cfg=cfg)
        out = read()
    finally:
        root.stop()
    return out, time.perf_counter() - t0


@dataclass(frozen=True)
class KWTAResult:
    """Winners ``[B, k]`` (sorted, ``-1`` padded), time steps and wall seconds of one run."""

    winners: np.ndarray
    num_steps: int
    wall_s: float


def run_kwta(
    vectors: np.ndarray,
    projection: np.ndarray,
    k: int,
    *,
    precision: Precision | str = Precision.FIXED,
    num_message_bits: int = DEFAULT_MESSAGE_BITS,
) -> KWTAResult:
    """Stream ``vectors [B, d]`` through ``GradedEncoder → Dense(P) → KWTA → WinnerReadout``.

    Cue ``b`` is sent at step ``b + 1`` and its winners spike at step ``b + 2``.
    """
    from lava.proc.dense.process import Dense

    from deploy_loihi.encoder.process import GradedEncoder
    from deploy_loihi.kwta.process import KWTA
    from deploy_loihi.readout.process import WinnerReadout

    x = np.asarray(vectors, dtype=np.float64)
    p = np.asarray(projection, dtype=np.int64)
    b, n = x.shape[0], p.shape[0]
    steps = b + 1
    enc = GradedEncoder(vectors=x, period=1, num_message_bits=num_message_bits)
    dense = Dense(weights=PROJECTION_WEIGHT * p, weight_exp=PROJECTION_WEIGHT_EXP, num_message_bits=num_message_bits)
    kw = KWTA(shape=(n,), k=k)
    ro = WinnerReadout(shape=(n,), k=k, num_steps=steps)
    enc.s_out.connect(dense.s_in)
    dense.a_out.connect(kw.a_in)
    kw.s_out.connect(ro.s_in)
    rec, wall = _run(kw, steps, precision, lambda: ro.winners.get())
    return KWTAResult(np.asarray(rec[1 : b + 1], dtype=np.int64), steps, wall)


@dataclass(frozen=True)
class DynamicsKWTAResult:
    """Output of :func:`run_kwta_dynamics`.

    Attributes:
        winners: ``[B, slots]`` sorted spiking indices per cue (``-1`` padded; ``slots = 2k``).
        counts: ``[B]`` number of neurons that spiked on each cue's output step.
        steps_per_search: search iterations per cue (the output comes one step later).
        num_steps, wall_s: steps simulated for all cues and wall seconds.
        dropped: inputs lost because a search was running (0 when the period is long enough).
    """

    winners: np.ndarray
    counts: np.ndarray
    steps_per_search: int
    num_steps: int
    wall_s: float
    dropped: int


def run_kwta_dynamics(
    vectors: np.ndarray,
    projection: np.ndarray,
    k: int,
    *,
    precision: Precision | str = Precision.FIXED,
    value_bits: int = 24,
    frac_bits: int = 0,
    tie_break: bool = True,
    num_message_bits: int = DEFAULT_MESSAGE_BITS,
) -> DynamicsKWTAResult:
    """Stream ``vectors [B, d]`` through ``GradedEncoder → Dense(P) → ThresholdKWTA → WinnerReadout``.

    Cues are ``S + 1`` steps apart (``S`` = search iterations); cue ``b`` reaches the population at
    step ``2 + b(S+1)`` and its winners spike ``S`` steps later.
    """
    from lava.proc.dense.process import Dense

    from deploy_loihi.encoder.process import GradedEncoder
    from deploy_loihi.kwta_dynamics.process import ThresholdKWTA
    from deploy_loihi.readout.process import WinnerReadout

    x = np.asarray(vectors, dtype=np.float64)
    p = np.asarray(projection, dtype=np.int64)
    b, n = x.shape[0], p.shape[0]
    kw = ThresholdKWTA(shape=(n,), k=k, value_bits=value_bits, frac_bits=frac_bits, tie_break=tie_break)
    search = kw.num_steps_per_search
    period = search + 1
    steps = 2 + (b - 1) * period + search
    slots = min(2 * k, n)
    enc = GradedEncoder(vectors=x, period=period, num_message_bits=num_message_bits)
    dense = Dense(weights=PROJECTION_WEIGHT * p, weight_exp=PROJECTION_WEIGHT_EXP, num_message_bits=num_message_bits)
    ro = WinnerReadout(shape=(n,), k=slots, num_steps=steps)
    enc.s_out.connect(dense.s_in)
    dense.a_out.connect(kw.a_in)
    kw.s_out.connect(ro.s_in)
    (rec, counts, dropped), wall = _run(kw, steps, precision, lambda: (ro.winners.get(), ro.counts.get(), kw.dropped.get()))
    out_rows = [2 + i * period + search - 1 for i in range(b)]  # 0-based rows of the output steps
    return DynamicsKWTAResult(
        np.asarray(rec, dtype=np.int64)[out_rows], np.asarray(counts, dtype=np.int64)[out_rows], search, steps, wall,
        int(np.asarray(dropped).reshape(-1)[0]),
    )


@dataclass(frozen=True)
class HebbianResult:
    """Learned weights ``W [n_pre, n_post]`` (production orientation), steps and wall seconds."""

    weights: np.ndarray
    num_steps: int
    wall_s: float


def learn_hebbian(
    pre_winners: np.ndarray,
    post_winners: np.ndarray,
    n: int,
    *,
    precision: Precision | str = Precision.FIXED,
    initial: np.ndarray | None = None,
) -> HebbianResult:
    """Learn association counts from winner pairs with :class:`~deploy_loihi.hebbian.process.HebbianAssociation`.

    Pair ``b`` is presented at step ``b + 1`` (pre code on ``s_in``, post code on ``s_in_bap``).
    """
    from deploy_loihi.encoder.process import GradedEncoder
    from deploy_loihi.hebbian.process import HebbianAssociation
    from deploy_loihi.reference import winners_to_mask

    pre = winners_to_mask(pre_winners, n).astype(np.float64)
    post = winners_to_mask(post_winners, n).astype(np.float64)
    if pre.shape[0] != post.shape[0] or pre.shape[0] < 1:
        raise ValueError(f"pre_winners and post_winners need the same number B >= 1 of rows, got {pre.shape[0]} and {post.shape[0]}")
    w0 = None if initial is None else np.asarray(initial).T
    e_pre = GradedEncoder(vectors=pre, period=1, num_message_bits=2)
    e_post = GradedEncoder(vectors=post, period=1, num_message_bits=2)
    heb = HebbianAssociation(shape=(n, n), weights=w0)
    e_pre.s_out.connect(heb.s_in)
    e_post.s_out.connect(heb.s_in_bap)
    steps = pre.shape[0] + 1
    w, wall = _run(heb, steps, precision, lambda: heb.weights.get())
    return HebbianResult(np.rint(np.asarray(w)).astype(np.int64).T, steps, wall)


@dataclass(frozen=True)
class MultiHopResult:
    """Per-hop winners of a multi-hop run.

    Attributes:
        codes: ``[H+1, B, k]`` code-layer winners per hop (sorted, ``-1`` padded).
        memories: ``[B, H+1]`` recalled memory rows per hop (``-1``: nothing).
        num_steps: time steps simulated for all ``B`` cues.
        wall_s: wall seconds of the run (build + simulate + read back).
    """

    codes: np.ndarray
    memories: np.ndarray
    num_steps: int
    wall_s: float


def run_multihop(
    vectors: np.ndarray,
    projection: np.ndarray,
    stored_winners: np.ndarray,
    weights: np.ndarray,
    *,
    k: int,
    hops: int,
    w_cap: int = 1,
    precision: Precision | str = Precision.FIXED,
    num_message_bits: int = DEFAULT_MESSAGE_BITS,
) -> MultiHopResult:
    """Run :class:`~deploy_loihi.multihop.process.MultiHopRecall` on cues ``vectors [B, d]``."""
    from deploy_loihi.multihop.process import MultiHopRecall, code_step, memory_step

    net = MultiHopRecall(
        vectors=vectors, projection=projection, stored_winners=stored_winners, weights=weights,
        k=k, hops=hops, w_cap=w_cap, num_message_bits=num_message_bits,
    )

    def read():
        return (
            [np.asarray(getattr(net, f"code_winners_{t}").get()) for t in range(hops + 1)],
            [np.asarray(getattr(net, f"memory_winners_{t}").get()) for t in range(hops + 1)],
        )

    (codes_rec, mem_rec), wall = _run(net, net.num_steps, precision, read)
    b = np.asarray(vectors).shape[0]
    codes = np.stack([[codes_rec[t][code_step(i, t) - 1] for i in range(b)] for t in range(hops + 1)])
    mems = np.stack([[mem_rec[t][memory_step(i, t) - 1, 0] for i in range(b)] for t in range(hops + 1)], axis=1)
    return MultiHopResult(codes.astype(np.int64), mems.astype(np.int64), net.num_steps, wall)


def _child(conn, fn, args, kwargs) -> None:  # pragma: no cover - runs in a subprocess
    try:
        os.setpgid(0, 0)  # the Lava runtime's processes join this group, so the parent can stop them all
    except OSError:
        pass
    try:
        conn.send(("ok", fn(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


#: Seconds a child that has answered gets to exit by itself before its process group is killed.
CHILD_EXIT_WAIT_S = 5.0
#: Seconds to wait for a killed process group to disappear (killed processes go at once; this only
#: bounds a pathological kernel delay).
GROUP_EXIT_WAIT_S = 10.0


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from ``/proc`` (empty where there is none)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def shared_memory_of(pids: list[int]) -> set[str]:
    """The ``/dev/shm`` files mapped by ``pids`` (Lava's channels and its shared-memory manager)."""
    out: set[str] = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        for line in maps.splitlines():
            at = line.find(" /dev/shm/")
            if at >= 0:
                out.add(line[at + 1 :].removesuffix(" (deleted)"))
    return out


def stop_process_group(pgid: int) -> dict[str, int]:
    """Kill every process of group ``pgid`` and unlink the shared memory only they mapped.

    A Lava run forks one process per process model plus a shared-memory manager; killing only the
    runner leaves them alive (holding the terminal's stdout and gigabytes of memory) and their
    ``/dev/shm`` segments allocated. Returns how many processes were killed and segments removed.
    """
    pids = group_pids(pgid)
    segments = shared_memory_of(pids) - shared_memory_of([os.getpid()])
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + GROUP_EXIT_WAIT_S
    while group_pids(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    removed = 0
    for seg in segments:
        try:
            os.unlink(seg)
            removed += 1
        except OSError:
            pass
    return {"processes": len(pids), "shared_memory": removed}


def run_with_deadline(fn: Callable[..., Any], *args: Any, timeout_s: float, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` in a forked child process and kill it after ``timeout_s`` seconds.

    The child leads its own process group, which every process Lava starts for the run joins. When
    the call returns, raises, times out or is interrupted (Ctrl-C), whatever is left of that group
    is killed and its shared memory unlinked (:func:`stop_process_group`), so no Lava process
    outlives the call or keeps the caller's stdout open.

    Raises:
        TimeoutError: the run did not finish in time (a hung Lava runtime); the child is killed.
        RuntimeError: the run raised; the message carries the child's exception.
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs), daemon=False)
    proc.start()
    try:
        os.setpgid(proc.pid, proc.pid)  # also here: no window in which the group does not exist yet
    except OSError:
        pass  # the child got there first (or already exited)
    child.close()
    answered = False
    try:
        if not parent.poll(timeout_s):
            raise TimeoutError(f"Lava run {getattr(fn, '__name__', fn)} exceeded timeout_s={timeout_s}")
        status, payload = parent.recv()
        answered = True
    finally:
        if answered:  # let it exit by itself; the sentinel does not reap it, so its pid (the group id) stays ours
            mp_connection.wait([proc.sentinel], timeout=CHILD_EXIT_WAIT_S)
        stop_process_group(proc.pid)
        proc.join(timeout=CHILD_EXIT_WAIT_S)
        parent.close()
    if status != "ok":
        raise RuntimeError(payload)
    return payload
