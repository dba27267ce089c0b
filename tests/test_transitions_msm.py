"""lg.fit_transitions against R's msm on the same data (3 significant figures or better).

Runs when ``Rscript`` with the msm package is installed (``make system-deps``
installs Debian's ``r-cran-msm``); skips, saying so, otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.transitions import simulate_panel


def _have_msm() -> bool:
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "library(msm)"], capture_output=True, text=True)
    return r.returncode == 0


pytestmark = pytest.mark.skipif(
    not _have_msm(),
    reason="R with the msm package is not installed (`make system-deps` installs r-cran-msm); "
           "the comparison with msm did not run")


def _run_msm(tmp_path: Path, data: pd.DataFrame, allowed: np.ndarray, *, covariates: str | None = None,
             deathexact: int | None = None, efpt_to: int | None = None) -> dict:
    """Fit msm in R on ``data`` (id, time, state[, covariates]); return its results as a dict."""
    csv = tmp_path / "panel.csv"
    out = tmp_path / "msm.json"
    data.to_csv(csv, index=False)
    q0 = "rbind(" + ", ".join("c(" + ", ".join(str(0.3 * int(v)) for v in row) + ")"
                              for row in allowed) + ")"
    args = [f"qmatrix = {q0}"]
    if covariates:
        args.append(f"covariates = {covariates}, center = FALSE")
    if deathexact:
        args.append(f"deathexact = {deathexact}")
    efpt = (f"res$efpt <- as.numeric(efpt.msm(f, tostate = {efpt_to}, ci = 'none'))"
            if efpt_to else "")
    script = textwrap.dedent(f"""
        suppressPackageStartupMessages(library(msm))
        d <- read.csv("{csv}")
        f <- msm(state ~ time, subject = id, data = d, {", ".join(args)},
                 control = list(reltol = 1e-14, maxit = 10000, fnscale = nrow(d)))
        res <- list(estimates = as.numeric(f$estimates), se = sqrt(diag(f$covmat)),
                    minus2loglik = f$minus2loglik,
                    p1 = as.numeric(t(pmatrix.msm(f, t = 1, covariates = 0))),
                    sojourn = as.numeric(sojourn.msm(f, covariates = 0)$estimates))
        {efpt}
        writeLines(paste0("{{",
          paste(sprintf('"%s": [%s]', names(res),
                sapply(res, function(v) paste(sprintf("%.15g", v), collapse = ", "))),
                collapse = ", "), "}}"), "{out}")
    """)
    r = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


def _sig3(a, b):
    """Agreement to 3 significant figures (relative 5e-4, with an absolute floor for ~0)."""
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=5e-4, atol=1e-6)


def test_five_stages_agree_with_msm(tmp_path):
    Q = np.array([[-0.6, 0.6, 0, 0, 0], [0.2, -0.8, 0.6, 0, 0], [0, 0.2, -0.7, 0.5, 0],
                  [0, 0, 0.2, -0.6, 0.4], [0, 0, 0, 0.3, -0.3]])
    d = simulate_panel(Q, n=800, seed=21)
    allowed = (Q > 0).astype(int)
    fit = lg.fit_transitions(d, id="id", time="time", score="state")  # day-rounded = exact here
    r = _run_msm(tmp_path, d, allowed, efpt_to=5)
    _sig3(fit.params_.to_numpy(), r["estimates"])
    _sig3(np.exp(fit.params_.to_numpy()), np.exp(r["estimates"]))
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_params_)), r["se"], rtol=2e-3)
    assert -2 * fit.loglik == pytest.approx(r["minus2loglik"][0], rel=1e-7)
    _sig3(fit.P(1.0).to_numpy().ravel(), r["p1"])
    _sig3(fit.sojourn()["mean_years"], r["sojourn"])
    _sig3(fit.first_passage(5)["mean_years"], r["efpt"])


def test_covariates_and_exact_absorbing_agree_with_msm(tmp_path):
    Q = np.array([[-0.6, 0.6, 0, 0, 0.0], [0.2, -0.8, 0.5, 0, 0.1], [0, 0.2, -0.7, 0.5, 0],
                  [0, 0, 0.2, -0.6, 0.4], [0, 0, 0, 0, 0]])
    rng = np.random.default_rng(5)
    n = 700
    cov = pd.DataFrame({"x": rng.integers(0, 2, n).astype(float)})
    B = np.zeros((5, 5))
    B[0, 1], B[1, 2], B[2, 3] = 0.4, -0.3, 0.3
    d = simulate_panel(Q, n=n, seed=3, covariates=cov, effects={"x": B}, initial=[.3, .3, .2, .2, 0])
    fit = lg.fit_transitions(d, id="id", time="time", score="state", allowed=Q > 0, absorbing=5,
                             covariates=["x"], time_resolution=None)
    r = _run_msm(tmp_path, d, (Q > 0).astype(int), covariates="~ x", deathexact=5)
    nq = int((Q > 0).sum())
    est = fit.params_.to_numpy()
    _sig3(np.exp(est[:nq]), np.exp(r["estimates"][:nq]))  # baseline intensities
    _sig3(np.exp(est[nq:]), np.exp(r["estimates"][nq:]))  # hazard ratios
    np.testing.assert_allclose(fit.hazard_ratios["hazard_ratio"], np.exp(r["estimates"][nq:]), rtol=5e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_params_)), r["se"], rtol=2e-3)
    assert -2 * fit.loglik == pytest.approx(r["minus2loglik"][0], rel=1e-7)
    _sig3(fit.P(1.0).to_numpy().ravel(), r["p1"])
    _sig3(fit.sojourn()["mean_years"], r["sojourn"])


def test_panel_observed_absorbing_state_agrees_with_msm(tmp_path):
    Q = np.array([[-0.8, 0.5, 0.3], [0.4, -0.6, 0.2], [0, 0, 0]])
    d = simulate_panel(Q, n=600, exact_absorbing=False, seed=8)
    allowed = np.array([[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    fit = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2, 3], absorbing=3,
                             exact_absorbing=False, allowed=allowed)
    r = _run_msm(tmp_path, d, allowed)
    _sig3(np.exp(fit.params_.to_numpy()), np.exp(r["estimates"]))
    assert -2 * fit.loglik == pytest.approx(r["minus2loglik"][0], rel=1e-7)


def test_transition_specific_covariates_agree_with_msm(tmp_path):
    Q = np.array([[-0.8, 0.8, 0], [0.3, -0.7, 0.4], [0, 0.5, -0.5]])
    rng = np.random.default_rng(4)
    cov = pd.DataFrame({"x": rng.integers(0, 2, 600).astype(float)})
    B = np.zeros((3, 3))
    B[0, 1], B[1, 2] = 0.6, -0.4
    d = simulate_panel(Q, n=600, covariates=cov, effects={"x": B}, seed=5)
    fit = lg.fit_transitions(d, id="id", time="time", score="state", states=[1, 2, 3],
                             covariates={"x": [(1, 2), (2, 3)]})
    r = _run_msm(tmp_path, d, (Q > 0).astype(int), covariates='list("1-2" = ~ x, "2-3" = ~ x)')
    # msm lists the effects fixed at zero too: 4 baseline, then x on 1-2, 2-1, 2-3, 3-2.
    est = np.asarray(r["estimates"])
    assert est[[5, 7]].tolist() == [0.0, 0.0]
    _sig3(np.exp(fit.params_.to_numpy()), np.exp(est[[0, 1, 2, 3, 4, 6]]))
    assert -2 * fit.loglik == pytest.approx(r["minus2loglik"][0], rel=1e-7)
