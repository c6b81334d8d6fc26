"""Lava runs end cleanly: on timeout or error every process the run started is stopped, its shared
memory is unlinked, and a pipe on the caller's stdout closes (``hhmem loihi simulate ... | tail``)."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

if not Path("/proc/self/stat").is_file():  # pragma: no cover
    pytest.skip("needs /proc (Linux) to see the processes", allow_module_level=True)

from deploy_loihi.network import group_pids, run_with_deadline  # noqa: E402

#: Deadline given to the hanging run (long enough for it to start its helpers on a loaded machine).
RUN_TIMEOUT_S = 8.0
#: Hard limit for a whole subprocess in these tests: reaching it means a pipe never closed.
HARD_TIMEOUT_S = 120
#: Environment variable marking every process started by one test run.
MARK = "HHMEM_TEST_RUN_MARK"


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def marked_processes(mark: str) -> list[int]:
    """Live processes whose environment carries ``MARK=mark``."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def hang_like_lava(info: str, fail: bool) -> None:  # runs in the forked child
    """Map a /dev/shm segment and fork a helper process, as Lava's runtime does, then hang or fail."""
    seg = f"/dev/shm/hhmem-test-{uuid.uuid4().hex}"
    with open(seg, "w+b") as fh:
        fh.truncate(4096)
        mapped = mmap.mmap(fh.fileno(), 4096)
    mapped[:4] = b"lava"
    helper = os.fork()  # like Lava's shared-memory manager: a forked process that keeps the segment mapped
    if helper == 0:
        time.sleep(600)
        os._exit(0)
    Path(info).write_text(f"{helper} {seg}")
    if fail:
        raise ValueError("a model raised inside the runtime")
    time.sleep(600)


@pytest.mark.timeout(HARD_TIMEOUT_S)
@pytest.mark.parametrize("fail", [False, True], ids=["timeout", "error"])
def test_no_process_or_shared_memory_survives(tmp_path, fail):
    info = tmp_path / "info"
    with pytest.raises(RuntimeError if fail else TimeoutError):
        run_with_deadline(hang_like_lava, str(info), fail, timeout_s=RUN_TIMEOUT_S)
    assert info.is_file(), "the run did not get as far as starting its helper; raise RUN_TIMEOUT_S"
    helper_pid, seg = info.read_text().split()
    assert not alive(int(helper_pid)), "a process started by the run survived it"
    assert not group_pids(int(helper_pid)), "the run's process group still has members"
    assert not Path(seg).exists(), f"shared memory {seg} was not released"


CALLER = r"""
import sys
from deploy_loihi.network import run_with_deadline
sys.path.insert(0, TEST_DIR)
from test_deadline import hang_like_lava
try:
    run_with_deadline(hang_like_lava, INFO, False, timeout_s=RUN_TIMEOUT_S)
except TimeoutError as exc:
    print("timed out:", exc, file=sys.stderr)
    sys.exit(3)
"""


def run_marked(cmd: list[str], mark: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, MARK: mark, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                                    os.environ.get("PYTHONPATH", "")])}
    # communicate() returns only once every holder of the stdout/stderr pipes has closed them.
    return subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=HARD_TIMEOUT_S, **kwargs)


@pytest.mark.timeout(HARD_TIMEOUT_S + 30)
def test_pipe_on_stdout_closes_after_a_timeout(tmp_path):
    mark = uuid.uuid4().hex
    code = (f"TEST_DIR = {str(Path(__file__).parent)!r}\nINFO = {str(tmp_path / 'info')!r}\n"
            f"RUN_TIMEOUT_S = {RUN_TIMEOUT_S}\n" + CALLER)
    proc = run_marked([sys.executable, "-c", code], mark)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert not marked_processes(mark), "processes of the run are still alive"


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.timeout(HARD_TIMEOUT_S + 60)
def test_simulate_cli_timeout_leaves_no_lava_process(tmp_path):
    pytest.importorskip("lava")
    mark = uuid.uuid4().hex
    # Large enough that no machine finishes it within the 1 s deadline (the small network of 24
    # memories sometimes did, and the test then had no timeout to check).
    cmd = [sys.executable, "-m", "hybrid.cli", "loihi", "simulate", "--memories", "300", "--code-dim", "2048",
           "-k", "16", "--hops", "6", "--timeout", "1", "--out", str(tmp_path / "rep")]
    proc = run_marked(cmd, mark, cwd=tmp_path)
    assert proc.returncode != 0 and "exceeded timeout" in proc.stderr, proc.stderr[-2000:]
    assert not marked_processes(mark), "Lava processes survived the timeout"
