"""The powered restoration task: whole photos degraded then cropped, a test set from unseen photos."""

import math

import pytest
import torch

from exda_lite.data import photo_pool
from exda_lite.reference.stats import power_table, seeds_for_halfwidth


@pytest.fixture(scope="module")
def task():
    return photo_pool.make_pool_task(n_train=40, n_test=10, patch=16, realisations=1)


def test_shapes_counts_and_labels(task):
    assert task["train_degraded"].shape == task["train_clean"].shape == (40, 3, 16, 16)
    assert task["test_degraded"].shape == (10, 3, 16, 16)
    assert torch.bincount(task["test_labels"], minlength=5).tolist() == [2] * 5  # spread evenly
    assert 0 <= float(task["train_degraded"].min()) and float(task["train_degraded"].max()) <= 1


def test_no_photo_is_both_trained_and_tested(task):
    assert not set(task["info"]["train_photos"]) & set(task["info"]["test_photos"])
    assert {"china", "flower"} <= set(task["info"]["test_photos"])


def test_the_task_is_deterministic(task):
    again = photo_pool.make_pool_task(n_train=40, n_test=10, patch=16, realisations=1)
    assert torch.equal(again["train_degraded"], task["train_degraded"])
    assert torch.equal(again["test_clean"], task["test_clean"])


def test_motion_blur_stays_inside_the_receptive_field():
    import numpy as np

    rng = np.random.default_rng(0)
    assert max(photo_pool.sample_params("motion_blur", rng)["length"] for _ in range(200)) <= 9


def test_too_few_test_crops_is_one_clear_error():
    with pytest.raises(ValueError, match="n_test"):
        photo_pool.make_pool_task(n_train=4, n_test=3)


def test_seeds_for_halfwidth_is_the_smallest_n_that_reaches_it():
    from scipy import stats

    n = seeds_for_halfwidth(0.5, 0.3)
    assert stats.t.ppf(0.975, n - 1) * 0.5 / math.sqrt(n) <= 0.3 < stats.t.ppf(0.975, n - 2) * 0.5 / math.sqrt(n - 1)
    assert seeds_for_halfwidth(0.01, 0.3) == 5  # never fewer than 5
    assert seeds_for_halfwidth(50.0, 0.3) is None and seeds_for_halfwidth(math.nan, 0.3) is None


def test_power_table_reads_a_pilots_comparisons():
    table = power_table({"a_minus_b": {"n": 3, "sd": 0.5, "low": -1.0, "high": 1.0}})
    assert table["a_minus_b"]["halfwidth_now"] == 1.0 and table["a_minus_b"]["seeds_needed"] == seeds_for_halfwidth(0.5, 0.3)


def test_a_tiny_fig5_pool_pilot_reports_each_degradation_and_caches_it(tmp_path):
    import dataclasses
    import json

    from exda_lite.reference import experiments, runner

    tiny = {**experiments.EXPERIMENTS["fig5_pool"].settings, "n_train": 16, "n_test": 10, "patch": 16,
            "test_patch": 16, "realisations": 1, "channels": 8, "batch_size": 4, "evals": 1}
    e = dataclasses.replace(experiments.EXPERIMENTS["fig5_pool"], steps=2, settings=tiny)
    summary = runner.run_experiment(e, [100], "cpu", tmp_path, progress=False, arms=("baseline", "both"))
    per = summary["pilot"]["per_degradation"]["both_minus_baseline"]
    assert set(per) == set(photo_pool.POOL_DEGRADATIONS) and all(v["n"] == 1 for v in per.values())
    run = json.loads((tmp_path / "runs" / "fig5_pool" / "both-seed100.json").read_text())
    assert set(run["per_label"]) == set(photo_pool.POOL_DEGRADATIONS)  # cached beside the run
    assert summary["data"]["n_test"] == 10 and "identity_psnr" in summary["data"]


def test_textured_test_crops_have_the_minimum_std():
    task = photo_pool.make_pool_task(n_train=4, n_test=20, patch=16, realisations=1, test_min_std=0.05)
    assert float(task["test_clean"].mean(1).flatten(1).std(1).min()) >= 0.05
