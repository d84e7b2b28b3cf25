"""The GluonTS predictor: forecasts start right after each target with the right keys, hold
SeqFusion's numbers, and GluonTS' own evaluation (Evaluator; evaluate_model, which
GIFT-Eval calls) scores them as the GIFT-Eval protocol of our harness does."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqfusion import SeqFusion
from seqfusion.errors import SeqFusionError

pytestmark = pytest.mark.gluonts

QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FREQS = ("M", "Q-DEC", "W-SUN", "D", "h", "15min", "Y-DEC", "B")


def _predictor(**params: Any) -> Any:
    from seqfusion.integrations.gluonts import SeqFusionPredictor

    return SeqFusionPredictor(**params)


@settings(max_examples=15, deadline=None)
@given(freq=st.sampled_from(FREQS), length=st.integers(10, 90), horizon=st.integers(1, 12),
       lead=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_forecast_start_keys_and_values(freq: str, length: int, horizon: int, lead: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = pd.Period("2019-03-04 05:00", freq=freq)
    target = rng.normal(size=length).cumsum() + 20
    (fc,) = list(_predictor(prediction_length=horizon, lead_time=lead).predict(
        [{"start": start, "target": target, "item_id": "x"}]))
    assert fc.start_date == start + length + lead and fc.start_date.freqstr == start.freqstr
    assert fc.forecast_keys == [str(q) for q in QUANTILES] + ["mean"]
    assert fc.item_id == "x" and fc.forecast_array.shape == (len(QUANTILES) + 1, horizon)
    model = SeqFusion.from_pretrained()
    q = model.predict_histories([target], horizon + lead, freq=start.freqstr, quantiles=QUANTILES)[0, lead:]
    point = model.predict_histories([target], horizon + lead, freq=start.freqstr)[0, lead:]
    np.testing.assert_array_equal(fc.mean, point)
    for k, level in enumerate(QUANTILES):
        np.testing.assert_array_equal(fc.quantile(level), q[:, k])


def test_multivariate_target_batches_and_stated_frequency() -> None:
    rng = np.random.default_rng(1)
    uni = [{"start": pd.Period("2020-01-01", freq="D"), "target": rng.normal(size=n).cumsum()} for n in (50, 41, 70)]
    multi = {"start": pd.Period("2021-01", freq="M"), "target": rng.normal(size=(3, 48)).cumsum(axis=1)}
    data = [*uni, multi]
    one_by_one = list(_predictor(prediction_length=5, batch_size=1).predict(data))
    together = list(_predictor(prediction_length=5).predict(data))
    for a, b in zip(one_by_one, together):
        np.testing.assert_array_equal(a.forecast_array, b.forecast_array)
    fc = together[-1]
    assert fc.forecast_array.shape == (len(QUANTILES) + 1, 5, 3) and fc.start_date == pd.Period("2025-01", freq="M")
    for d in range(3):
        (alone,) = _predictor(prediction_length=5).predict([{"start": multi["start"], "target": multi["target"][d]}])
        np.testing.assert_array_equal(fc.copy_dim(d).forecast_array, alone.forecast_array)
    weekly = next(iter(_predictor(prediction_length=5, freq="W").predict(uni[:1])))
    np.testing.assert_array_equal(weekly.mean, SeqFusion.from_pretrained().predict_histories(
        [uni[0]["target"]], 5, freq="W")[0])


def test_short_targets_are_imputed_as_gluonts_does_or_refused() -> None:
    from seqfusion.integrations.gluonts import last_value_impute

    target = np.full(30, np.nan)
    target[[3, 10, 11, 20]] = [1.0, 2.0, 4.0, 3.0]
    np.testing.assert_array_equal(last_value_impute(target)[[0, 3, 5, 11, 15, 29]], [1.0, 1.0, 1.0, 4.0, 4.0, 3.0])
    np.testing.assert_array_equal(last_value_impute(np.full(4, np.nan)), np.zeros(4))
    entry = {"start": pd.Period("2020-01", freq="M"), "target": target}
    fc = next(iter(_predictor(prediction_length=4).predict([entry])))
    np.testing.assert_array_equal(fc.mean, SeqFusion.from_pretrained().predict_histories(
        [last_value_impute(target)], 4, freq="M")[0])
    with pytest.raises(SeqFusionError, match="usable points"):
        list(_predictor(prediction_length=4, impute_short=False).predict([entry]))


def test_serializes_as_its_arguments(tmp_path: Path) -> None:
    from gluonts.model.predictor import Predictor

    predictor = _predictor(prediction_length=3, quantiles=(0.05, 0.5, 0.95), options={"history": "last"})
    predictor.serialize(tmp_path)
    again = Predictor.deserialize(tmp_path)
    assert again == predictor and again.model.history == "last"
    entry = {"start": pd.Period("2020-01-01 00:00", freq="h"), "target": np.sin(np.arange(80) / 4)}
    np.testing.assert_array_equal(next(iter(again.predict([entry]))).forecast_array,
                                  next(iter(predictor.predict([entry]))).forecast_array)


def _dataset(n_series: int = 6, length: int = 120, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = []
    for i in range(n_series):
        y = 50 + 10 * np.sin(2 * np.pi * t / 12 + i) + rng.normal(0, 2, length).cumsum() * 0.3
        if i == 2:
            y[[30, 31, 90]] = np.nan  # missing history values: the forecaster fills them, the metrics mask them
        out.append({"start": pd.Period("2010-01", freq="M"), "target": y, "item_id": f"s{i}"})
    return out


def test_gift_eval_protocol_runs_through_the_predictor() -> None:
    """GIFT-Eval's evaluation (rolling test windows of gluonts' split, evaluate_model with
    MASE[0.5] and the mean weighted quantile loss) on the predictor gives the scores that
    our harness' GIFT-Eval protocol gives with SeqFusion.predict_histories."""
    from gluonts.dataset.split import split
    from gluonts.ev.metrics import MASE, MeanWeightedSumQuantileLoss
    from gluonts.model import evaluate_model

    from benchmarks.gift import protocol

    data, horizon, windows = _dataset(), 12, 3
    m = protocol.seasonality("M")
    _, template = split(data, offset=-horizon * windows)
    test_data = template.generate_instances(prediction_length=horizon, windows=windows, distance=horizon)
    scores = evaluate_model(_predictor(prediction_length=horizon), test_data=test_data,
                            metrics=[MASE(), MeanWeightedSumQuantileLoss(quantile_levels=QUANTILES)], axis=None,
                            mask_invalid_label=True, allow_nan_forecast=False, seasonality=m)

    cut = protocol.split_windows([d["target"] for d in data], horizon, windows)
    model = SeqFusion.from_pretrained()
    q = model.predict_histories([w.history for w in cut], horizon, freq="M", quantiles=QUANTILES)
    ours_mase = protocol.mase(cut, q[:, :, QUANTILES.index(0.5)], m)
    ours_crps = protocol.weighted_quantile_loss(np.stack([w.future for w in cut]), q.transpose(0, 2, 1), QUANTILES)
    assert scores["MASE[0.5]"].item() == pytest.approx(ours_mase, rel=1e-9)
    assert scores["mean_weighted_sum_quantile_loss"].item() == pytest.approx(ours_crps, rel=1e-9)
    assert 0.2 < ours_mase < 3.0  # a sane forecast of noisy seasonal series, not a degenerate one


def test_make_evaluation_predictions_and_evaluator() -> None:
    from gluonts.evaluation import Evaluator, make_evaluation_predictions

    data, horizon = _dataset(), 12
    forecasts, truths = make_evaluation_predictions(data, _predictor(prediction_length=horizon))
    forecasts, truths = list(forecasts), list(truths)
    assert [f.item_id for f in forecasts] == [d["item_id"] for d in data]
    assert all(f.start_date == d["start"] + len(d["target"]) - horizon for f, d in zip(forecasts, data))
    agg, per_item = Evaluator(quantiles=QUANTILES)(truths, forecasts)
    assert len(per_item) == len(data) and np.isfinite(agg["MASE"]) and np.isfinite(agg["mean_wQuantileLoss"])
    # the 80% interval of a calibrated forecast covers most of the held-out points
    assert 0.5 < agg["Coverage[0.9]"] - agg["Coverage[0.1]"] <= 1.0
    history = data[0]["target"][:-horizon]
    np.testing.assert_array_equal(forecasts[0].mean, SeqFusion.from_pretrained().predict_histories(
        [history], horizon, freq="M")[0])
