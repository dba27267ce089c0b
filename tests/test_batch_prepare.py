"""The batch's preparation in child processes: the same slices and the same protection as in one process."""

from __future__ import annotations

import pandas as pd
import pytest

import longitudinal as lg
from longitudinal.domain import all_areas
from longitudinal.report import YearProtection, batch
from longitudinal.report.joint import protection_file


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "s"
    lg.simulate(people=300, seed=1).write(path, format="parquet")
    return path


@pytest.fixture(scope="module")
def whole(store) -> YearProtection:
    return YearProtection.for_study(lg.load(store), 2025)


def _same(a: YearProtection, b: YearProtection) -> None:
    assert list(a.published) == list(b.published)
    for area, tables in b.published.items():
        assert list(a.published[area]) == list(tables)
        for name, df in tables.items():
            pd.testing.assert_frame_equal(a.published[area][name], df)
    assert a.changes == b.changes and a.relations_dropped == b.relations_dropped


def test_the_protection_built_in_child_processes_is_the_one_of_the_whole_study(store, whole, tmp_path):
    cache, years = batch.in_children([("prepare_cache", {"data": str(store), "cache_root": str(tmp_path),
                                                          "areas": all_areas()})])[0]
    assert 2025 in years
    # Wales in one child, the authorities (from their cached slices) in two others.
    path = batch.prepare_protection(store, cache, 2025, code="test", workers=3)
    _same(YearProtection.load(path), whole)


def test_the_protection_of_a_batch_of_some_areas_reads_the_study(store, whole, tmp_path):
    # Only Cardiff's slice is cached: the child reads and splits the study itself.
    cache, _ = batch.prepare_cache(store, tmp_path, ["Cardiff"])
    path = batch.prepare_protection(store, cache, 2025, code="test", workers=1)
    _same(YearProtection.load(path), whole)


def test_the_data_step_prepares_the_protection_while_it_writes_the_slices(store, whole, tmp_path):
    # Wales's tables in a grandchild from its slice, the authorities' in the data step's child as they are split.
    cache, _ = batch.in_children([("prepare_cache", {"data": str(store), "cache_root": str(tmp_path),
                                                      "areas": all_areas(), "protect": "test"})])[0]
    path = protection_file(cache, 2025)
    _same(YearProtection.load(path), whole)
    # made by the same code: the protection step keeps it
    made = path.stat().st_mtime_ns
    assert batch.prepare_protection(store, cache, 2025, code="test", workers=2) == path
    assert path.stat().st_mtime_ns == made
    # a batch of some areas only: the protection step makes it (from the study)
    cache2, _ = batch.prepare_cache(store, tmp_path / "some", ["Cardiff"], protect="test")
    assert not protection_file(cache2, 2025).exists()


def test_a_child_process_error_is_raised_in_the_batch(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such study folder"):
        batch.in_children([("prepare_cache", {"data": str(tmp_path / "missing"), "cache_root": str(tmp_path),
                                               "areas": ["Wales"]})])
