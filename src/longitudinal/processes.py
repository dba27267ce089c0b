"""Child processes that die with the process that started them, whatever ends it (SIGKILL included).

The report batch starts worker processes, and each worker starts a Jupyter kernel per area. Both
are started in their own sessions (so a Ctrl-C in the terminal reaches the batch alone, and the
batch stops them in order); a session of its own also means nothing else kills them when the batch
dies. On Linux each child therefore asks the kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to be
killed when its parent exits: a batch killed with SIGKILL takes its workers with it, and a worker
takes its kernel. Elsewhere the batch still stops its children on SIGINT/SIGTERM and on timeouts.

Note: Linux sends the signal when the *thread* that started the child ends, so a child must be
started by a thread that lives as long as the child is wanted.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent", "owned_kernel_manager", "PDEATHSIG_SUPPORTED"]

_PR_SET_PDEATHSIG = 1
#: Whether children can be tied to their parent here (Linux).
PDEATHSIG_SUPPORTED = sys.platform.startswith("linux")


def _prctl():
    """libc's ``prctl``, looked up in the parent: the child between fork and exec must not load libraries."""
    if not PDEATHSIG_SUPPORTED:
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets SIGKILL when its parent exits.

    The parent's pid is taken now (before the fork); a child whose parent already died before it
    could ask (the kernel would then never signal it) exits at once.
    """
    parent = os.getpid()
    prctl = _prctl()
    sig = int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child between fork and exec: as little as possible
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def owned_kernel_manager():
    """A jupyter_client kernel manager whose kernels die with the process that started them.

    Pass it to papermill as ``kernel_manager_class``.
    """
    from jupyter_client import AsyncKernelManager

    class OwnedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["preexec_fn"] = die_with_parent()
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return OwnedKernelManager
