"""Who was supported: people by age band and sex."""

from __future__ import annotations

from .. import counts as ct
from ..area import AreaYear
from ..joint import YearProtection
from ..publish import Publisher, Section


def demographics(a: AreaYear, prot: YearProtection, pub: Publisher) -> Section:
    """People supported in the year by age band and sex (a two-way table with both totals)."""
    out = prot.table(a.area, "age_sex")
    cols = [c for c in out.columns if c != "age_band"]
    t = pub.table("age_sex", f"People supported by age band and sex, {a.label}", out, cols,
                  specs=ct.age_sex_links(cols), label_column="age_band", rounded=prot.changes_of(a.area, "age_sex"))
    return (Section("demographics", "Who was supported",
                             "Age is reached during the financial year; each person is counted once.", [t]))

