#!/usr/bin/env bash
# Best-effort install of the optional system packages some tests use:
#   chromium      - the report tests open the HTML reports in headless Chromium
#   r-cran-msm    - the transitions tests compare with R's msm
#   r-cran-nlme   - the mixed-model tests compare variance-component intervals with nlme's intervals()
#   r-cran-lme4   - the profile-likelihood intervals are compared with lme4's confint()
#   r-cran-mice   - the attrition tests compare Rubin's rules and imputed shares with R's mice
#   r-cran-matchit - the effectiveness tests compare the propensity model and balance with R's MatchIt
# Needs root and Debian's apt; otherwise it says so and those tests skip.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
Rscript -e 'library(msm)' >/dev/null 2>&1 || need+=(r-cran-msm)
Rscript -e 'library(nlme)' >/dev/null 2>&1 || need+=(r-cran-nlme)
Rscript -e 'library(lme4)' >/dev/null 2>&1 || need+=(r-cran-lme4)
Rscript -e 'library(mice)' >/dev/null 2>&1 || need+=(r-cran-mice)
Rscript -e 'library(MatchIt)' >/dev/null 2>&1 || need+=(r-cran-matchit)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); the tests that need them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/longitudinal-system-deps.log 2>&1 \
  || echo "system-deps: apt-get could not install ${need[*]} (see /tmp/longitudinal-system-deps.log); those tests will skip" >&2
exit 0
