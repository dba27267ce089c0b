"""The annual reports batch: one parameterised notebook per area, run unattended and reproducibly.

:func:`run_annual` runs ``notebooks/annual_report.ipynb`` with papermill for
Wales and each of the 22 authorities, converts each to HTML without code cells
and writes, for financial year *Y*::

    <out>/<Y>/index.html               links to every area, with its status
    <out>/<Y>/<area-slug>/report.ipynb   the executed notebook
    <out>/<Y>/<area-slug>/report.html    the report (no code cells, no network scripts)
    <out>/<Y>/<area-slug>/figures/*.png  byte-stable figures
    <out>/<Y>/<area-slug>/tables/*.csv   every published table (disclosure-controlled)
    <out>/<Y>/<area-slug>/manifest.json  parameters, data hash, versions, commit, seed, times, status
    <out>/<Y>/audit.json                the disclosure audit of everything the year's folder publishes

The year is published (``batch.json``: ``"published": true``; the index says so)
only when every area succeeded and the disclosure audit
(:mod:`longitudinal.report.audit`) of all the areas' tables together passed.

How it stays safe unattended:

* The national data are read **once**; each area's slice is cached (pickled,
  keyed by the data's content hash) so that 23 kernels do not each read them.
* Areas run in parallel, each in its own worker process with a wall-clock
  timeout; kernel-start races of parallel papermill runs (ZMQ port clashes,
  "Kernel died before replying to kernel_info") are retried.
* An area is built in a temporary folder and renamed into place only when it
  succeeded, so a failed or killed run never leaves a half-written report;
  the previous good report stays in place.
* A lock file stops two runs writing the same year's output; the ``.tmp-*`` folders a killed run
  left are removed by the next run, once it holds the lock.
* The batch owns its processes: workers and their kernels are killed with it whatever ends it
  (:mod:`longitudinal.processes`), SIGINT/SIGTERM stop every running area cleanly and say which,
  and no area is moved into place once the batch has stopped.
* Every failure of an area, timeouts included, is recorded in ``<out>/<Y>/.failed/<area-slug>/``
  (``failure.json`` with the reason, and the notebook as far as it ran); the index says so and
  whether the previous report was kept.
* The study must be a whole store (:func:`longitudinal.study.check_store`): no ``ingest_report.json``,
  or a table whose hash differs from it, stops the batch before anything runs (exit status 2).
* ``resume=True`` skips areas whose manifest says ``ok`` for the same data,
  parameters, notebook and code.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .. import domain
from ..domain import WALES, all_areas, area_name, area_slug
from ..errors import LongitudinalError
from ..io import RESOURCES, atomic_dir, atomic_path, clean_leftovers, swap_in
from ..processes import die_with_parent
from .area import last_complete_year
from .disclosure_log import LOG_NAME, read_log, record_audit
from .kernels import KernelServer, forked_kernel_manager

__all__ = [
    "AreaResult",
    "BatchResult",
    "ReportLocked",
    "BatchStopped",
    "run_annual",
    "run_area",
    "data_hash",
    "prepare_cache",
    "prepare_protection",
    "write_index",
    "notebook_to_html",
    "NOTEBOOK",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The annual report notebook (``notebooks/annual_report.ipynb``, shipped in the package).
NOTEBOOK = RESOURCES / "notebooks" / "annual_report.ipynb"
TEMPLATE = PACKAGE_DIR / "templates" / "report.html.j2"
DATA_SUFFIXES = (".parquet", ".csv", ".xlsx")
#: Messages of the known, transient kernel-start failures of parallel papermill runs.
RETRYABLE = ("Kernel died before replying to kernel_info", "Address already in use", "ZMQError",
             "Kernel didn't respond in", "DeadKernelError", "Kernel died", "zmq.error")
PACKAGES = ("longitudinal", "numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib", "pyarrow",
            "papermill", "nbconvert", "nbformat", "ipykernel", "jupyter_client")


class ReportLocked(LongitudinalError, RuntimeError):
    """Another run is writing the same output."""


class BatchStopped(LongitudinalError):
    """The batch received SIGINT or SIGTERM: running areas were stopped, their previous reports kept."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.result: BatchResult | None = None
        self.stopped: list[str] = []  # areas that were running
        self.not_started: list[str] = []
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # as a shell reports a process ended by that signal


@dataclass
class AreaResult:
    area: str
    slug: str
    status: str  # ok, skipped, failed, timeout
    seconds: float = 0.0
    attempts: int = 0
    message: str = ""


@dataclass
class BatchResult:
    year: int
    out: Path
    results: list[AreaResult] = field(default_factory=list)
    #: The disclosure audit of the year's folder (``audit.json``): ``passed``, ``counts``, ``findings``, ...
    audit: dict | None = None
    #: Wall-clock seconds of the batch's steps (reading and slicing the data, the year's protection, the areas,
    #: the audit), for operators and benchmarks.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[AreaResult]:
        return [r for r in self.results if r.status not in ("ok", "skipped")]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def published(self) -> bool:
        """Every area written or up to date, and the disclosure audit passed."""
        return self.ok and bool(self.audit and self.audit.get("passed"))

    @property
    def exit_code(self) -> int:
        """0 published; 1 an area failed or the disclosure audit failed."""
        return 0 if self.published else 1


# ------------------------------------------------------------ fingerprints
def _sha256_file(path: Path, h: hashlib._Hash) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def data_hash(data: str | Path) -> str:
    """SHA-256 of a study folder's four table files (names and bytes, in name order)."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: no such study folder")
    from ..contract import ALL_TABLE_NAMES

    # The tables only: a store's logs and reports may change without the data changing.
    files = sorted(p for p in data.iterdir()
                   if p.is_file() and p.suffix in DATA_SUFFIXES and p.stem in ALL_TABLE_NAMES)
    if not files:
        raise FileNotFoundError(f"{data}: no table files ({', '.join(DATA_SUFFIXES)})")
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0")
        _sha256_file(p, h)
    return h.hexdigest()


def code_hash() -> str:
    """SHA-256 of the package's source files and shipped reference files (deflators, proxies, maps):
    a report is redone when its code or the figures it restates prices with changed."""
    h = hashlib.sha256()
    files = []
    for root, _dirs, names in os.walk(PACKAGE_DIR, followlinks=True):  # resources/ holds links in a checkout
        files += [Path(root) / n for n in names]
    for p in sorted(files, key=lambda q: q.relative_to(PACKAGE_DIR).as_posix()):
        rel = p.relative_to(PACKAGE_DIR)
        if p.suffix in (".py", ".j2") or (rel.parts[0] == "resources" and p.suffix in (".csv", ".yaml", ".xlsx")):
            h.update(rel.as_posix().encode() + b"\0")
            _sha256_file(p, h)
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True,
                             timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else None
        if commit:
            dirty = subprocess.run(["git", "status", "--porcelain", "--", str(PACKAGE_DIR)], cwd=PACKAGE_DIR,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# ------------------------------------------------------------------ cache
def prepare_cache(data: str | Path, cache_root: str | Path, areas: Iterable[str], *,
                  digest: str | None = None, protect: str | None = None) -> tuple[Path, list[int]]:
    """Read the study once and write each area's slice (pickle) under ``cache_root/<hash>``.

    Returns the cache folder and the study's financial years. Reused while the
    data's hash is unchanged.

    ``protect`` (the code's hash, as :func:`prepare_protection` takes it): when ``areas`` are all the areas, the
    protection of the data's last complete year is prepared too, while the slices are written, so that the two
    cores are busy: Wales's count tables in a child process from its slice, written first, and the authorities'
    here, each from its slice as it is split (:func:`prepare_protection` then finds it done).
    """
    import pickle

    from ..study import load

    digest = digest or data_hash(data)
    areas = list(areas)
    ready = _cached(cache_root, digest, areas)
    if ready is not None:
        return ready
    folder = Path(cache_root) / digest[:20]
    meta_file = folder / "meta.json"
    folder.mkdir(parents=True, exist_ok=True)
    study = load(data)
    year = last_complete_year(study)
    protecting = protect is not None and areas == all_areas()
    wales: Children | None = None
    tables: dict = {}
    try:
        for a, part in _split_by_area(study, areas):
            with atomic_path(folder / f"{area_slug(a)}.pkl") as tmp:
                with open(tmp, "wb") as fh:
                    pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
            if protecting and a == WALES:
                wales = Children([("_count_tables_of", {"data": str(data), "cache": str(folder), "year": year,
                                                        "areas": [WALES]})])
            elif protecting:
                tables |= _tables_of([(a, part)], year)
        meta = {"data_hash": digest, "financial_years": study.financial_years,
                "last_complete_year": year, "synthetic": study.truth is not None}
        with atomic_path(meta_file) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
        if wales is not None and protect is not None:
            del study  # the national data's memory, while Wales's tables are finished
            _save_protection(wales.results()[0] | tables, year, folder, protect)
    finally:
        if wales is not None:
            wales.stop()
    return folder, meta["financial_years"]


def _cached(cache_root: str | Path, digest: str, areas: list[str]) -> tuple[Path, list[int]] | None:
    """The cache folder and financial years when it already holds every area's slice, else None."""
    folder = Path(cache_root) / digest[:20]
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    have = {p.stem for p in folder.glob("*.pkl")}
    if meta and all(area_slug(a) in have for a in areas):
        return folder, meta["financial_years"]
    return None


def _split_by_area(study, areas: Iterable[str]):
    """Yield ``(area, slice)`` as given in ``areas``: :meth:`Study.by_area`, in one pass over the readings."""
    areas = list(areas)
    yield from zip(areas, (part for _, part in study.by_area([area_name(a) for a in areas])))


def prepare_protection(data: str | Path, cache: Path, year: int, *, code: str | None = None,
                       workers: int = 1) -> Path:
    """Compute the year's protection once for every area (:class:`~longitudinal.report.joint.YearProtection`)
    and keep it in the cache folder, where each area's report reads it; reused while data and code are unchanged.

    The areas' count tables are built in ``workers`` child processes (Wales in one, the authorities in the
    others), from the cached slices where the cache holds every authority; only the rounding, which needs
    them all, runs here. The children's memory is returned when they end, before any report starts.
    """
    from .joint import protection_file

    path = protection_file(cache, year)
    key = code or code_hash()
    if _protected(path, key):
        return path
    # Wales is about as much work as all the authorities together: one child for it, the others share those.
    groups: list[list[str]] = [[WALES], list(domain.LA_NAMES)] if workers > 1 else [all_areas()]
    if workers > 2:
        groups = [[WALES]] + [list(domain.LA_NAMES)[i::workers - 1] for i in range(workers - 1)]
    parts = in_children([("_count_tables_of", {"data": str(data), "cache": str(cache), "year": int(year),
                                                "areas": g}) for g in groups])
    return _save_protection({a: t for part in parts for a, t in part.items()}, year, cache, key)


def _protected(path: Path, key: str) -> bool:
    """Whether the protection at ``path`` was made from these data by this code (``key``)."""
    key_file = path.with_suffix(".key")
    return path.exists() and key_file.exists() and key_file.read_text() == key


def _save_protection(built: dict, year: int, cache: Path, key: str) -> Path:
    """Round the areas' count tables (``{area: tables}``) together and keep the protection in the cache."""
    from .joint import YearProtection, protection_file

    path = protection_file(cache, year)
    tables = {a: built[a] for a in all_areas() if a in built}  # the order of YearProtection.for_study
    YearProtection.from_tables(tables, year).save(path)
    with atomic_path(path.with_suffix(".key")) as tmp:
        tmp.write_text(key)
    return path


def _count_tables_of(data: str, cache: str, year: int, areas: list[str]) -> dict:
    """The count tables of those of ``areas`` that the year's publication protects (run in a child process)."""
    import pickle

    from ..study import load

    folder = Path(cache)
    # The slices the batch cached are those Study.by_area gives (the protection's own split); without the slice
    # of every area asked for (a batch of some areas only) the study is read and split here.
    if all((folder / f"{area_slug(a)}.pkl").exists() for a in areas):
        def slices():
            for a in areas:
                with open(folder / f"{area_slug(a)}.pkl", "rb") as fh:
                    yield a, pickle.load(fh)
        found = slices()
    else:
        study = load(data)
        found = ((a, part) for a, part in study.by_area() if a in areas)
    out = {}
    for a, part in found:  # one slice in memory at a time
        out |= _tables_of([(a, part)], year)
    return out


def _tables_of(slices, year: int) -> dict:
    """``{area: count tables}`` of the ``(area, slice)`` pairs that the year's publication protects."""
    from . import counts as ct
    from .joint import year_areas

    return {name: ct.year_count_tables(a) for name, a in year_areas(slices, year).items()}


def in_children(calls: list[tuple[str, dict]]) -> list:
    """Run ``(function name in this module, keyword arguments)`` calls in child processes at once; their results
    in order. A child's exception is raised here. The children die with this process (and are killed if it
    stops), and their memory goes back to the system when they end."""
    return Children(calls).results()


class Children:
    """:func:`in_children`'s child processes, started at once: :meth:`results` waits for them; :meth:`stop` kills
    those still running. Their inputs and results live in a temporary folder, removed by either."""

    def __init__(self, calls: list[tuple[str, dict]]) -> None:
        import pickle

        env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
                       p for p in (str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH")) if p))
        self.calls = calls
        self.tmp = Path(tempfile.mkdtemp(prefix="longitudinal-prep-"))
        self.procs: list[subprocess.Popen] = []
        try:
            for i, call in enumerate(calls):
                job = self.tmp / f"{i}.in"
                job.write_bytes(pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL))
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-c", "import sys; from longitudinal.report.batch import _child_main; "
                     "_child_main(sys.argv[1])", str(job)], env=env, stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent()))
        except BaseException:
            self.stop()
            raise

    def results(self) -> list:
        """Each call's result, in order, once all have ended; a child's exception is raised here."""
        import pickle

        try:
            for p in self.procs:
                p.wait()
            out = []
            for i, p in enumerate(self.procs):
                res = self.tmp / f"{i}.out"
                if not res.exists():
                    raise LongitudinalError(f"a child process preparing the batch ({self.calls[i][0]}) died "
                                            f"(exit status {p.returncode})")
                ok, value = pickle.loads(res.read_bytes())
                if not ok:
                    raise value
                out.append(value)
            return out
        finally:
            self.stop()

    def stop(self) -> None:
        for p in self.procs:  # stopped (a signal, an error) while they ran: they go too
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _child_main(job: str) -> None:  # pragma: no cover - runs in a child process
    """Run one call of :func:`in_children` and write ``(ok, result or exception)`` beside its input."""
    import pickle

    fn, kwargs = pickle.loads(Path(job).read_bytes())
    try:
        res = (True, globals()[fn](**kwargs))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            pickle.loads(pickle.dumps(exc))
            res = (False, exc)
        except Exception:  # noqa: BLE001 - an exception that cannot cross processes: its words do
            res = (False, LongitudinalError(f"{type(exc).__name__}: {exc}"))
    with atomic_path(Path(job).with_suffix(".out")) as tmp:
        tmp.write_bytes(pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL))


def _auto_year(cache: Path) -> int:
    return int(json.loads((cache / "meta.json").read_text())["last_complete_year"])


# ------------------------------------------------------------------- HTML
def notebook_to_html(nb_path: str | Path, html_path: str | Path, title: str) -> Path:
    """Convert an executed notebook to a self-contained HTML report without code cells."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    nb.metadata["title"] = title
    # Readers see results, not warnings written to stderr (the executed notebook keeps them for audit).
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="lab", template_file=str(TEMPLATE), exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    with atomic_path(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return Path(html_path)


def _strip_volatile(nb_path: Path) -> dict[str, float]:
    """Drop execution timestamps and durations so the stored notebook depends only on its content.

    Returns the seconds each code cell took (its first line as the key), for the manifest.
    """
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    timings: dict[str, float] = {}
    for cell in nb.cells:
        dur = cell.metadata.get("papermill", {}).get("duration")
        if cell.cell_type == "code" and dur is not None:
            key = (cell.source.strip().splitlines() or [""])[-1][:60]
            timings[key] = round(float(dur), 2)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        pm = cell.metadata.get("papermill")
        if pm:
            for k in ("start_time", "end_time", "duration"):
                pm.pop(k, None)
    pm = nb.metadata.get("papermill", {})
    for k in ("start_time", "end_time", "duration", "input_path", "output_path"):
        pm.pop(k, None)
    nbformat.write(nb, str(nb_path))
    return timings


# -------------------------------------------------------------- one area
def _params(year: int, area: str, data: Path, seed: int, cache: Path | None, release_date: str | None = None) -> dict:
    out = {"financial_year": int(year), "area": area, "data": str(Path(data).resolve()), "seed": int(seed),
           "out": ".", "cache": str(cache) if cache else None}
    if release_date is not None:  # the date the published pages state (one per batch)
        out["release_date"] = str(release_date)
    return out


def _inputs_key(params: dict, digest: str, notebook: Path, code: str) -> dict:
    nb_hash = hashlib.sha256(Path(notebook).read_bytes()).hexdigest()
    keep = {k: v for k, v in params.items() if k not in ("out", "cache")}
    return {"parameters": keep, "data_hash": digest, "notebook_hash": nb_hash, "code_hash": code}


def run_area(spec: dict, kernels: KernelServer | None = None) -> dict:
    """Build one area's report in a temporary folder and move it into place (worker entry point).

    ``spec`` holds ``area, year, data, seed, out, cache, notebook, timeout,
    retries, data_hash``. ``kernels``: the worker's kernel server, which forks the area's kernel
    (:mod:`longitudinal.report.kernels`); without it the kernel is started the ordinary way.
    Returns the manifest written.
    """
    import papermill as pm

    area, year = spec["area"], int(spec["year"])
    slug = area_slug(area)
    year_dir = Path(spec["out"]) / str(year)
    final = year_dir / slug
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{slug}-", dir=year_dir))
    params = _params(year, area, Path(spec["data"]), spec["seed"], Path(spec["cache"]) if spec.get("cache") else None,
                     spec.get("release_date"))
    key = _inputs_key(params, spec["data_hash"], Path(spec["notebook"]), spec.get("code_hash") or code_hash())
    started = datetime.now(UTC)
    manifest = {"area": area, "slug": slug, "financial_year": year, "financial_year_label": domain.fy_label(year),
                **key,
                "data_path": str(Path(spec["data"]).resolve()), "seed": int(spec["seed"]),
                "package_versions": package_versions(), "git_commit": _git_commit(),
                "started": started.isoformat(timespec="seconds"), "attempts": 0}
    attempts, last_err = 0, None
    try:
        while attempts < int(spec.get("retries", 3)):
            attempts += 1
            try:
                # The kernel runs in the area's folder, so tables/ and figures/ land there.
                pm.execute_notebook(str(spec["notebook"]), str(tmp / "report.ipynb"), parameters=params,
                                    cwd=str(tmp), kernel_name=spec.get("kernel", "python3"),
                                    progress_bar=False, log_output=False, start_timeout=120,
                                    execution_timeout=spec.get("cell_timeout"),
                                    kernel_manager_class=forked_kernel_manager(kernels))
                last_err = None
                break
            except Exception as exc:  # noqa: BLE001 - classified just below
                last_err = exc
                text = f"{type(exc).__name__}: {exc}"
                if not any(m in text for m in RETRYABLE):
                    break
                time.sleep(1.0 + attempts)  # let the other kernel finish binding its ports
        manifest["attempts"] = attempts
        if last_err is not None:
            raise last_err
        manifest["cell_seconds"] = _strip_volatile(tmp / "report.ipynb")
        if not (tmp / "report.html").exists():  # a notebook without the publishing cell: its own HTML
            notebook_to_html(tmp / "report.ipynb", tmp / "report.html",
                             f"Supporting People annual report: {area} {domain.fy_label(year)}")
        manifest["status"] = "ok"
        manifest["outputs"] = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _publishable(tmp)
        if spec.get("parent_pid") and os.getppid() != int(spec["parent_pid"]):
            raise RuntimeError("the batch stopped before this area finished: not moved into place")
        # Swap into place (one atomic exchange on Linux): the old report goes only once the new one is in.
        old = swap_in(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest
    except BaseException as exc:
        manifest["attempts"] = attempts
        record_failure(year_dir, area, "failed", failure_reason(exc), started=manifest["started"],
                       partial=tmp, extra=manifest)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def failure_reason(exc: BaseException) -> str:
    """One line for the index: a notebook's own error (``RuntimeError: boom``), not papermill's wrapper
    with the cell's whole traceback."""
    name, value = getattr(exc, "ename", None), getattr(exc, "evalue", None)  # papermill's execution error
    if name is None:
        name, value = type(exc).__name__, str(exc)
    return f"{name}: {value}".splitlines()[0]


def record_failure(year_dir: Path, area: str, status: str, reason: str, *, started: str,
                   partial: Path | None = None, extra: dict | None = None) -> Path:
    """``<year>/.failed/<slug>/``: ``failure.json`` (status, reason, times) and the notebook as far as it ran.

    Written for every failure of an area, whoever sees it (the worker for an error, the batch for a
    timeout, a dead worker or a stop), so the index and the operator always find the reason.
    """
    folder = Path(year_dir) / ".failed" / area_slug(area)
    record = dict(extra or {})
    record.update(area=area, slug=area_slug(area), status=status, reason=reason[:4000], started=started,
                  finished=datetime.now(UTC).isoformat(timespec="seconds"))
    with atomic_dir(folder) as new:
        (new / "failure.json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        if partial is not None and (Path(partial) / "report.ipynb").exists():
            shutil.copyfile(Path(partial) / "report.ipynb", new / "report.ipynb")
    return folder


def _failure(year_dir: Path, slug: str) -> dict | None:
    try:
        return json.loads((year_dir / ".failed" / slug / "failure.json").read_text())
    except (OSError, ValueError):
        return None


def _publishable(folder: Path) -> None:
    """Readable by the web server that publishes the reports (temp files are created private)."""
    os.chmod(folder, 0o755)
    for p in folder.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)


_RESULT = "LGRESULT "


#: Environment variable: whether batch workers start a kernel server -- ``auto`` (default: when a worker is to build
#: at least :data:`KERNEL_SERVER_FROM` areas), ``always`` or ``never``.
KERNEL_SERVER_ENV = "LONGITUDINAL_KERNEL_SERVER"
#: A kernel server pays from the third area of a worker: its imports (about 5 CPU s) run beside the first area's
#: kernel, which starts the ordinary way because the server is not ready yet, and the second area's fork saves
#: about as much again; a worker of one or two areas (a small batch, a test) would only pay for it.
KERNEL_SERVER_FROM = 3


def _kernel_server_mode() -> str:
    """:data:`KERNEL_SERVER_ENV`, checked."""
    mode = os.environ.get(KERNEL_SERVER_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"${KERNEL_SERVER_ENV}={mode!r}: expected auto, always or never")
    return mode


def _worker_loop(kernel_server: bool = True) -> None:  # pragma: no cover - runs in a worker subprocess
    """Build the areas sent on stdin (one JSON spec a line), answering each on stdout.

    One worker process serves many areas, so papermill and nbconvert are imported once per
    worker rather than once per area; every area still gets a fresh kernel, forked by the worker's
    kernel server, which imported the report's modules once (:mod:`longitudinal.report.kernels`);
    without a server (``kernel_server=False``) each kernel starts the ordinary way.
    """
    # jsonschema (through nbformat, which papermill and nbconvert read notebooks with) imports rfc3987_syntax when
    # it is installed, and that builds some 35 Lark parsers on import: 2-6 s of CPU in each worker, for the "iri"
    # formats no notebook schema uses (python-jsonschema/jsonschema#1428). Marked absent, jsonschema skips it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    kernels = KernelServer() if kernel_server else None  # started now: it imports while the worker waits
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        try:
            manifest = run_area(spec, kernels)
            res = {"status": manifest["status"], "attempts": manifest["attempts"]}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which carries on
            res = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"[-2000:]}
        sys.stdout.write(_RESULT + json.dumps(res) + "\n")
        sys.stdout.flush()
    if kernels is not None:
        kernels.close()


class _Worker:
    """A worker subprocess in its own session, killed with the batch (see :mod:`longitudinal.processes`)."""

    def __init__(self, pool: _Pool, kernel_server: bool = True) -> None:
        import queue

        self.pool = pool
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             f"from longitudinal.report.batch import _worker_loop; _worker_loop({bool(kernel_server)})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env,
            start_new_session=True, preexec_fn=die_with_parent())
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.area: str | None = None  # the area it is building
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # the worker exited

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        tail = [ln for ln in self.stderr.read().strip().splitlines() if ln.strip()]
        return tail[-1] if tail else ""

    def run(self, spec: dict, timeout: float) -> AreaResult:
        import queue

        area = spec["area"]
        year_dir = Path(spec["out"]) / str(spec["year"])
        started = datetime.now(UTC).isoformat(timespec="seconds")
        t0 = time.monotonic()

        def lost(status: str, reason: str) -> AreaResult:
            # the worker is gone or killed: record why, keep the notebook as far as it ran, remove the rest
            if self.pool.stopping.is_set():
                status, reason = "stopped", self.pool.reason
            for tmp in year_dir.glob(f".tmp-{area_slug(area)}-*"):
                record_failure(year_dir, area, status, reason, started=started, partial=tmp)
                break
            else:
                record_failure(year_dir, area, status, reason, started=started)
            _cleanup_tmp(year_dir, area_slug(area))
            return AreaResult(area, area_slug(area), status, time.monotonic() - t0, 0, reason)

        self.area = area
        try:
            self.proc.stdin.write(json.dumps(dict(spec, parent_pid=os.getpid())) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return lost("failed", f"worker died: {self._stderr_tail() or 'no message'}")
        while True:
            left = timeout - (time.monotonic() - t0)
            try:
                line = self.lines.get(timeout=max(left, 0.0)) if left > 0 else None
            except queue.Empty:
                line = None
                left = 0
            if line is None and left <= 0:
                self.kill()
                return lost("timeout", f"timeout after {timeout:g} s")
            if line is None:  # the worker died (killed, out of memory, ...)
                self.kill()
                return lost("failed", f"worker died: {self._stderr_tail() or 'no message'}")
            if line.startswith(_RESULT):
                self.area = None
                info = json.loads(line[len(_RESULT):])
                secs = time.monotonic() - t0
                if info.get("status") == "ok":
                    return AreaResult(area, area_slug(area), "ok", secs, int(info.get("attempts", 1)))
                return AreaResult(area, area_slug(area), "failed", secs, 0, info.get("message", "failed"))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker (its kernel dies with it)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def close(self) -> None:
        if self.alive:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self.stderr.close()


class _Pool:
    """The batch's live workers, so that a stop can kill every one of them."""

    def __init__(self) -> None:
        self.workers: set[_Worker] = set()
        self.stopping = threading.Event()
        self.reason = ""
        self.guard = threading.Lock()

    def stop(self, reason: str) -> list[str]:
        """Kill every worker (and so its kernel); returns the areas they were building."""
        self.reason = reason
        self.stopping.set()
        with self.guard:
            workers = list(self.workers)
        running = [w.area for w in workers if w.area]
        for w in workers:
            w.kill()
        return running


def _run_pool(specs: list[dict], workers: int, timeout: float, done: Callable[[AreaResult], None],
              pool: _Pool | None = None, kernel_server: str = "auto") -> None:
    """Run the areas on ``workers`` persistent workers; a worker that timed out or died is replaced.
    ``kernel_server``: whether the workers start a kernel server (``auto``, ``always``, ``never``; see
    :data:`KERNEL_SERVER_ENV`)."""
    import queue

    pool = pool or _Pool()
    todo: queue.Queue[dict] = queue.Queue()
    for spec in specs:
        todo.put(spec)
    n_threads = max(1, min(workers, len(specs)))
    server = kernel_server == "always" or (kernel_server == "auto"
                                           and -(-len(specs) // n_threads) >= KERNEL_SERVER_FROM)

    def slot() -> None:
        # Workers are started by this thread and closed before it ends: the kernel ties a worker's
        # life to the thread that started it (PR_SET_PDEATHSIG).
        worker = None
        try:
            while not pool.stopping.is_set():
                try:
                    spec = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is None or not worker.alive:
                    with pool.guard:
                        if pool.stopping.is_set():
                            return
                        worker = _Worker(pool, server)
                        pool.workers.add(worker)
                try:
                    r = worker.run(spec, timeout)
                except Exception as exc:  # noqa: BLE001 - one area never stops the others
                    r = AreaResult(spec["area"], area_slug(spec["area"]), "failed", 0.0, 0,
                                   f"{type(exc).__name__}: {exc}")
                if not pool.stopping.is_set():
                    done(r)
        finally:
            if worker is not None:
                worker.close()
                with pool.guard:
                    pool.workers.discard(worker)

    threads = [threading.Thread(target=slot, daemon=True) for _ in range(n_threads)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BatchStopped as stop:  # raised by the signal handler in this (the main) thread
        stop.stopped = pool.stop(f"stopped: the batch received {signal.Signals(stop.signum).name}")
        for t in threads:
            t.join(timeout=60)  # each records its area as stopped and removes its temporary folder
        while not todo.empty():
            stop.not_started.append(todo.get_nowait()["area"])
        raise


def _cleanup_tmp(year_dir: Path, slug: str = "") -> None:
    """The temporary folders of one area (or, without ``slug``, of every area: what killed runs left)."""
    for p in year_dir.glob(f".tmp-{slug}-*" if slug else ".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for area in ([slug] if slug else [area_slug(a) for a in all_areas()]):
        clean_leftovers(year_dir / area)  # and a swap cut short: the previous report is put back


def _up_to_date(final: Path, key: dict) -> bool:
    mf = final / "manifest.json"
    if not mf.exists():
        return False
    try:
        m = json.loads(mf.read_text())
    except ValueError:
        return False
    return m.get("status") == "ok" and all(m.get(k) == v for k, v in key.items())


def _audit(year_dir: Path) -> dict:
    """The disclosure audit of what the year's folder publishes, written to ``audit.json``."""
    from .audit import AuditError, audit_year

    try:
        out = audit_year(year_dir).to_dict()
    except AuditError as exc:
        out = {"passed": False, "error": str(exc), "counts": {}, "findings": []}
    with atomic_path(year_dir / "audit.json") as tmp:
        tmp.write_text(json.dumps(out, indent=1, default=str) + "\n")
    # Each area's output-checking log carries the audit's verdict on the whole publication and its own findings.
    for sub in sorted(p for p in year_dir.iterdir() if (p / LOG_NAME).is_file()):
        area = read_log(sub).get("area")
        mine = [f for f in out.get("findings", []) if f.get("area") == area]
        record_audit(sub, {"status": "passed" if out.get("passed") else "failed",
                           "publication_passed": bool(out.get("passed")), "error": out.get("error"),
                           "findings": mine, "summary": "audit.json of the year's folder"})
    return out


def publication_message(audit: dict | None):
    """Whether the year is published, as the index says it (a catalogue message, in English and Welsh)."""
    from ..i18n import Msg, Verbatim

    if audit is None:
        return Msg("Not published: the disclosure audit has not run.")
    if audit.get("passed"):
        return Msg("Published: the disclosure audit of every area's tables passed.")
    if audit.get("error"):  # the program's own words (English), marked so on the Welsh page
        return Msg("Not published: the disclosure audit could not run ({error}).", error=Verbatim(str(audit["error"])))
    counts = ", ".join(f"{n} {k}" for k, n in audit.get("counts", {}).items() if n)
    return Msg("Not published: the disclosure audit found {n} value(s) a reader could work out ({counts}); see "
               "audit.json.", n=len(audit.get("findings", [])), counts=Verbatim(counts))


def _audit_line(audit: dict | None) -> str:
    return str(publication_message(audit))  # English: batch.json and the console


# ------------------------------------------------------------------ index
def write_index(year_dir: str | Path, year: int, areas: Iterable[str], audit: dict | None = None, *,
                release_date=None, synthetic: bool | None = None) -> Path:
    """``<out>/<year>/index.html`` and ``index.cy.html``: whether the year is published (the disclosure audit's
    verdict), every area (named in the page's language) linked to its report and spreadsheet, or "not
    published", with the one-line reason of a failed run. The operators' view (status, times, attempts) is
    ``batch.json`` and ``.failed/``, not the public index."""
    import datetime

    from ..i18n import LANGUAGES
    from .page import IndexEntry, index_name, render_index

    year_dir = Path(year_dir)
    areas = list(areas)
    entries = {}
    for a in areas:
        slug = area_slug(a)
        mf = year_dir / slug / "manifest.json"
        m = json.loads(mf.read_text()) if mf.exists() else {}
        published = m.get("status") == "ok"
        failure = _failure(year_dir, slug)
        if failure and published and failure.get("started", "") < m.get("started", ""):
            failure = None  # an older failure, mended since
        kept = m.get("finished", "?")[:10] if published else None
        entries[a] = IndexEntry(published, failure.get("reason", "?") if failure else None, kept, slug)
    if synthetic is None:
        meta = sorted(year_dir.parent.glob(".cache/*/meta.json"))
        synthetic = bool(meta) and json.loads(meta[-1].read_text()).get("synthetic", False)
    when = datetime.date.fromisoformat(str(release_date)) if release_date else datetime.date.today()
    for lang in LANGUAGES:
        page = render_index(year, areas, entries, lang, release_date=when,
                            status="synthetic" if synthetic else "in_development",
                            publication=publication_message(audit))
        with atomic_path(year_dir / index_name(lang)) as tmp:
            tmp.write_text(page, encoding="utf-8")
            os.chmod(tmp, 0o644)
    return year_dir / "index.html"


# ------------------------------------------------------------------ batch
def run_annual(data: str | Path, out: str | Path = "reports", *, year: int | str = "auto",
               areas: str | Iterable[str] = "all", workers: int | None = None, resume: bool = False,
               timeout: float = 1800.0, seed: int = 2019, notebook: str | Path | None = None,
               retries: int = 3, on_result: Callable[[AreaResult], None] | None = None,
               on_start: Callable[[int, list[str]], None] | None = None,
               release_date: str | None = None) -> BatchResult:
    """Run the annual report for Wales and each authority.

    Parameters
    ----------
    data : path
        The study folder (an ingested store or a folder of the four tables).
    out : path, default "reports"
        Output root; the year's reports go to ``<out>/<year>/``.
    year : int or "auto"
        Financial year (2025 = 2025-26); ``"auto"`` = the last complete one in the data.
    areas : "all", an area or a list of areas
        ``"all"`` = Wales and the 22 authorities.
    workers : int, optional
        Areas run at once; default one per core.
    resume : bool
        Re-run only areas that failed or whose inputs (data, parameters,
        notebook, code) changed.
    timeout : float
        Seconds allowed per area (kernel start, execution and conversion).
    seed : int
        Seed passed to every notebook.
    retries : int
        Attempts per area when a kernel fails to start.
    on_result, on_start : callable, optional
        Progress hooks (the command line draws its progress bar with them).
    release_date : str, optional
        The release date the published pages state (ISO ``2026-11-30``); default today.

    Returns
    -------
    BatchResult
        Per-area status; ``exit_code`` is 0 if every area is ok or up to date, else 1.

    Raises
    ------
    ReportLocked
        If another run holds the output's lock.
    """
    from filelock import FileLock, Timeout

    from ..study import check_store

    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"--data {data}: no such study folder (expected the four tables, "
                                "e.g. the store written by `longitudinal ingest`)")
    check_store(data)  # a damaged, changed or half-written store stops the batch before anything runs
    kernel_server = _kernel_server_mode()
    notebook = Path(notebook) if notebook else NOTEBOOK
    if not notebook.exists():
        raise FileNotFoundError(f"report notebook {notebook} not found")
    if isinstance(areas, str):
        area_list = all_areas() if areas.lower() == "all" else [area_name(areas)]
    else:
        area_list = list(dict.fromkeys(area_name(a) for a in areas))
    out = Path(out)
    _writable(out)
    clock = time.monotonic()
    digest = data_hash(data)
    code = code_hash()  # once, so that every area of a run records the same code
    # One reading of the data for all areas; the slices are reused while the data are unchanged.
    with FileLock(str(out / ".cache.lock")):
        for leftover in (out / ".cache").glob("*/.*.tmp"):  # slices a killed run was writing
            leftover.unlink(missing_ok=True)
        ready = _cached(out / ".cache", digest, area_list)
        # Read and split in a child process: the national data's memory is the system's again before the areas run.
        cache, years = ready or in_children([("prepare_cache", {"data": str(data), "cache_root": str(out / ".cache"),
                                                                 "areas": area_list, "digest": digest,
                                                                 "protect": code})])[0]
    steps = {"data": time.monotonic() - clock}
    if year in ("auto", None):
        fy = _auto_year(cache)
    else:
        fy = domain.parse_financial_year(year, "--year (or 'auto')")
        if years and fy not in years:
            raise ValueError(f"--year {fy}: the data cover {domain.fy_label(min(years))} to "
                             f"{domain.fy_label(max(years))}")
    year_dir = out / str(fy)
    year_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, int(workers or os.cpu_count() or 1))
    import datetime

    release = str(datetime.date.fromisoformat(str(release_date)) if release_date else datetime.date.today())
    lock = FileLock(str(year_dir / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise ReportLocked(f"{year_dir} is being written by another run (lock {year_dir / '.lock'}); "
                           "wait for it to finish") from exc
    result = BatchResult(fy, year_dir, seconds=steps)
    restore = _stop_on_signals()
    try:
        _cleanup_tmp(year_dir)  # what killed runs left: ours to remove now that we hold the lock
        clock = time.monotonic()
        with FileLock(str(out / ".cache.lock")):
            prepare_protection(data, cache, fy, code=code, workers=workers)
        steps["protection"] = time.monotonic() - clock
        todo, specs = [], {}
        for a in area_list:
            spec = {"area": a, "year": fy, "data": str(data.resolve()), "seed": int(seed), "out": str(out.resolve()),
                    "cache": str(cache.resolve()), "notebook": str(notebook.resolve()), "retries": int(retries),
                    "data_hash": digest, "code_hash": code, "release_date": release}
            specs[a] = spec
            key = _inputs_key(_params(fy, a, data, seed, cache, release), digest, notebook, code)
            if resume and _up_to_date(year_dir / area_slug(a), key):
                r = AreaResult(a, area_slug(a), "skipped", 0.0, 0, "up to date")
                result.results.append(r)
                if on_result:
                    on_result(r)
            else:
                todo.append(a)
        if on_start:
            on_start(len(area_list), todo)
        guard = threading.Lock()

        def done(r: AreaResult) -> None:
            with guard:
                if r.status == "ok":
                    shutil.rmtree(year_dir / ".failed" / r.slug, ignore_errors=True)
                result.results.append(r)
                if on_result:
                    on_result(r)

        clock = time.monotonic()
        try:
            _run_pool([specs[a] for a in _largest_first(todo, cache)], workers, timeout, done,
                      kernel_server=kernel_server)
        except BatchStopped as stop:
            stop.result = result
            # every worker is dead now; one killed between creating its folder and our per-area cleanup
            # would otherwise leave it for the next run (we still hold the batch lock)
            _cleanup_tmp(year_dir)
            # the areas finished before the stop, and those stopped
            write_index(year_dir, fy, all_areas(), release_date=release)
            raise
        steps["areas"] = time.monotonic() - clock
        order = {a: i for i, a in enumerate(area_list)}
        result.results.sort(key=lambda r: order[r.area])
        # All areas are in place: audit what they publish together before the year counts as published.
        clock = time.monotonic()
        result.audit = _audit(year_dir)
        steps["audit"] = time.monotonic() - clock
        write_index(year_dir, fy, all_areas(), result.audit, release_date=release)
        summary = {"financial_year": fy, "data_hash": digest, "seed": int(seed), "published": result.published,
                   "publication": _audit_line(result.audit),
                   "audit": {k: result.audit.get(k) for k in ("passed", "counts", "seconds", "error")
                             if k in result.audit},
                   "results": [asdict(r) for r in result.results]}
        with atomic_path(year_dir / "batch.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    finally:
        restore()
        lock.release()
    return result


def _largest_first(areas: list[str], cache: Path) -> list[str]:
    """The areas in the order they are given to the workers: the largest first (by the size of their cached
    slice), so that no large area starts last while the other workers have nothing left to do."""
    def size(a: str) -> int:
        try:
            return (cache / f"{area_slug(a)}.pkl").stat().st_size
        except OSError:
            return 0
    return sorted(areas, key=lambda a: -size(a))  # stable: areas of equal size keep their order


def _writable(out: Path) -> None:
    """Refuse, before any work, an output root that is a file or cannot be written."""
    from ..errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give the folder the reports should be written to")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror or exc}); give a folder this user "
                         "can write to") from None


def _stop_on_signals() -> Callable[[], None]:
    """SIGINT and SIGTERM raise :class:`BatchStopped` in the main thread (once); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only; its owner handles them
    raised = []

    def handler(signum, frame):
        if not raised:  # a second Ctrl-C while stopping must not cut the clean-up short
            raised.append(signum)
            raise BatchStopped(signum)

    before = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, h in before.items():
            signal.signal(sig, h)

    return restore


# ------------------------------------------------------------ command line
def run_report_cli(*, year: str, area: str, data: Path, out: Path, workers: int | None, resume: bool,
                   timeout: float, seed: int, console=None, notebook: Path | None = None) -> int:
    """``longitudinal report annual``: progress bar, status table, exit status (0 ok, 1 failed areas, 2 input/lock)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = console or Console(stderr=True)
    progress = Progress(TextColumn("[bold]annual reports"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.description}"), TimeElapsedColumn(), console=console)
    task = {}

    def on_start(n: int, todo: list[str]) -> None:
        task["id"] = progress.add_task(f"{len(todo)} to run", total=n, completed=n - len(todo))

    def on_result(r: AreaResult) -> None:
        if "id" in task:
            progress.update(task["id"], advance=1, description=f"{r.area}: {r.status}")

    try:
        with progress:
            areas = [a.strip() for a in area.split(",") if a.strip()] if "," in area else area
            res = run_annual(data, out, year=year, areas=areas, workers=workers, resume=resume, timeout=timeout,
                             notebook=notebook, seed=seed, on_result=on_result, on_start=on_start)
    except ReportLocked as exc:
        console.print(f"[red]locked:[/] {exc}")
        return 2
    except BatchStopped as stop:
        done = [r.area for r in (stop.result.results if stop.result else []) if r.status in ("ok", "skipped")]
        console.print(f"[red]{stop}[/]: stopped {len(stop.stopped)} running area(s)"
                      + (f" ({', '.join(stop.stopped)}: previous reports kept, reasons in .failed/)"
                         if stop.stopped else "")
                      + f"; {len(stop.not_started)} not started; {len(done)} finished before the stop")
        return stop.exit_code
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    table = Table(title=f"Annual reports {domain.fy_label(res.year)} -> {res.out}")
    for col in ("area", "status", "seconds", "attempts", "message"):
        table.add_column(col)
    colour = {"ok": "green", "skipped": "cyan", "failed": "red", "timeout": "red"}
    for r in res.results:
        table.add_row(r.area, f"[{colour.get(r.status, 'white')}]{r.status}[/]", f"{r.seconds:.1f}",
                      str(r.attempts), r.message[-200:])
    console.print(table)
    console.print(f"index: {res.out / 'index.html'}")
    if res.failed:
        console.print(f"[red]{len(res.failed)} area(s) failed:[/] " + ", ".join(r.area for r in res.failed)
                      + f" (details in {res.out / '.failed'}/)")
    colour = "green" if res.published else "red"
    console.print(f"[{colour}]{_audit_line(res.audit)}[/]")
    for f in (res.audit or {}).get("findings", [])[:10]:
        console.print(f"  {f['message']}", markup=False, highlight=False)
    return res.exit_code
