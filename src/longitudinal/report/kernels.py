"""Fresh Jupyter kernels for the batch's areas, forked from a process that has already imported the report's code.

Starting a kernel and importing what a report needs (pandas, matplotlib, statsmodels, lifelines,
gptables, the report package) costs a few CPU seconds, and the batch paid that once per area. A
batch worker now starts one :class:`KernelServer`: a process that imports those modules once and
then forks a new kernel for each area. Each area still gets a process of its own, started from the
same state (the imported modules, before any report code ran), so nothing of one area reaches
another and one area's failure cannot touch the next. The kernel is the ordinary ``ipykernel``,
driven by papermill as before.

Ownership is kept (see :mod:`longitudinal.processes`): the server dies with its worker, and each
kernel with the server; a kernel runs in a session of its own, so the kernel manager signals it
(interrupt, kill) as it would a kernel it started itself. Should the server be unavailable, the
kernel is started the ordinary way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..processes import die_with_parent, owned_kernel_manager

__all__ = ["KernelServer", "PRELOAD", "forked_kernel_manager"]

#: Modules a report imports, imported once by the server (a module missing here is only imported by each kernel).
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython.core.interactiveshell",
           "longitudinal", "longitudinal.report", "longitudinal.report.sections", "longitudinal.report.page",
           "longitudinal.report.spreadsheet", "longitudinal.outcome_maps", "longitudinal.sroi",
           "longitudinal.effectiveness", "longitudinal.attrition", "longitudinal.survival", "longitudinal.transitions",
           "longitudinal.trajectories", "longitudinal.distance", "longitudinal.mixed", "longitudinal.msm",
           "matplotlib.pyplot", "matplotlib.backends.backend_agg", "statsmodels.api", "statsmodels.formula.api",
           "lifelines", "gptables", "openpyxl", "xlsxwriter", "scipy.stats", "scipy.optimize", "scipy.sparse",
           "pyarrow.parquet", "jinja2", "mistune", "yaml", "PIL.PngImagePlugin")


def _kernel_args(cmd: list[str]) -> list[str] | None:
    """The ipykernel arguments of a kernel command this interpreter would run (``python ... -m
    ipykernel_launcher ARGS``), or None for any other kernel."""
    try:
        same = os.path.samefile(cmd[0], sys.executable)
        i = cmd.index("-m")
    except (OSError, ValueError, IndexError):
        return None
    if not same or i + 1 >= len(cmd) or cmd[i + 1] not in ("ipykernel_launcher", "ipykernel"):
        return None
    return list(cmd[i + 2:])


class _ForkedKernel:
    """What the kernel manager needs of a kernel process (``subprocess.Popen``'s ``poll``, ``wait``,
    ``send_signal``, ``kill``, ``terminate``) for a kernel the server forked: its exit status comes
    from the server, which reaps it."""

    stdin = stdout = stderr = None

    def __init__(self, server: KernelServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_status(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0.0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class KernelServer:
    """A child process that has imported :data:`PRELOAD` and forks a kernel on request.

    Start it from a thread that lives as long as the server is wanted (the server dies with that
    thread, see :func:`~longitudinal.processes.die_with_parent`). Messages are JSON lines: a request
    ``{"argv", "cwd", "env"}`` is answered ``{"pid"}`` (or ``{"error"}``); ``{"exit", "status"}``
    reports a kernel that ended.
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._replies: list[dict] = []
        self._cond = threading.Condition(self._lock)
        self._exits: dict[int, int] = {}
        self._dead = False
        self._ready = False  # the server has imported PRELOAD
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from longitudinal.report.kernels import _serve; _serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, preexec_fn=die_with_parent())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if "exit" in msg:
                    self._exits[int(msg["exit"])] = int(msg["status"])
                elif "ready" in msg:
                    self._ready = True
                else:
                    self._replies.append(msg)
                self._cond.notify_all()
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    @property
    def alive(self) -> bool:
        return not self._dead and self.proc.poll() is None

    def spawn(self, cmd: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
              timeout: float = 120.0) -> _ForkedKernel | None:
        """Fork a kernel running ``cmd``'s ipykernel arguments in ``cwd`` with ``env``; None when the command
        is not an ipykernel of this interpreter or the server cannot serve yet (still importing) or at all: the
        caller then starts the kernel itself, so that no area waits for the server's imports."""
        args = _kernel_args(cmd)
        with self._cond:
            ready = self._ready
        if args is None or not ready or not self.alive:
            return None
        req = {"argv": args, "cwd": str(cwd or os.getcwd()), "env": dict(env if env is not None else os.environ)}
        with self._cond:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write((json.dumps(req) + "\n").encode())
                self.proc.stdin.flush()
            except OSError:
                return None
            if not self._cond.wait_for(lambda: self._replies or self._dead, timeout) or not self._replies:
                self.proc.kill()  # it did not answer: not used again (a late answer would be taken for the next)
                return None
            reply = self._replies.pop(0)
        if "pid" not in reply:
            return None
        return _ForkedKernel(self, int(reply["pid"]))

    def exit_status(self, pid: int) -> int | None:
        """The kernel's exit status once the server reaped it; a kernel of a dead server died with it."""
        with self._cond:
            if pid in self._exits:
                return self._exits[pid]
            if self._dead:
                return -int(signal.SIGKILL)
        return None

    def close(self) -> None:
        """Stop the server (it holds nothing to save; a kernel still running dies with it)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def forked_kernel_manager(server: KernelServer | None):
    """A kernel manager class (for papermill's ``kernel_manager_class``) whose kernels ``server`` forks; without
    a server, or when it cannot serve, kernels start the ordinary way
    (:func:`~longitudinal.processes.owned_kernel_manager`)."""
    base = owned_kernel_manager()
    if server is None:
        return base

    class ForkedKernelManager(base):  # type: ignore[misc, valid-type]
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            proc = server.spawn(kernel_cmd, cwd=kw.get("cwd"), env=kw.get("env"))
            if proc is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            prov = self.provisioner
            # What LocalProvisioner.launch_kernel records of a process it started (the kernel leads its own group).
            prov.process, prov.pid, prov.pgid = proc, proc.pid, proc.pid
            prov.cwd = kw.get("cwd") or Path.cwd()
            self._reconcile_connection_info(prov.connection_info)

    return ForkedKernelManager


# ----------------------------------------------------------------------------------------- the server process
def _serve() -> None:  # pragma: no cover - runs in the server process
    import gc
    import importlib
    import selectors
    import warnings

    # Answers go to a private copy of stdout; anything a module prints goes to stderr, not into the answers.
    stdin, stdout = 0, os.dup(1)
    os.dup2(2, 1)
    with warnings.catch_warnings():  # a kernel importing them itself would show these in no report either
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - then each kernel imports it (and meets the error) itself
                pass
    gc.freeze()  # the imported objects are never collected: kernels do not touch (and copy) their pages
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; IPython puts the kernel's folder back
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(msg: dict) -> None:
        data = (json.dumps(msg) + "\n").encode()
        while data:
            data = data[os.write(stdout, data):]

    send({"ready": 1})
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    buf = b""
    while True:
        try:
            events = sel.select()
        except InterruptedError:
            continue
        for key, _ in events:
            if key.fd == wake_r:
                os.read(wake_r, 4096)
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    send({"exit": pid, "status": os.waitstatus_to_exitcode(status)})
                continue
            chunk = os.read(stdin, 1 << 16)
            if not chunk:
                os._exit(0)  # the worker closed the pipe (or died)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                owned = die_with_parent()  # taken here: the kernel checks it still has this parent
                pid = os.fork()
                if pid == 0:
                    _kernel(req, owned, (stdout, wake_r, wake_w))
                send({"pid": pid})


def _kernel(req: dict, owned, fds) -> None:  # pragma: no cover - runs in a forked kernel
    """Become the kernel: a session of its own, the request's folder, environment and arguments."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        owned()
        for fd in fds:  # the server's answers and wake-up pipe
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)  # not the server's requests
        os.close(null)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = ["ipykernel_launcher", *req["argv"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=req["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on stderr; the kernel manager sees the kernel die
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
