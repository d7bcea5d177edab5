"""RiskModel: protected columns refused, reproducible, calibrated, monotone, persisted safely."""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from model_tables import training_frame
from sklearn.base import clone

from safeguard.features.dictionary import FEATURE_NAMES, ProtectedFeatureError
from safeguard.models.estimator import RiskModel
from safeguard.models.metrics import ece
from safeguard.models.registry import UntrustedModelError, load_risk_model, save_risk_model
from safeguard.models.shap_explain import explain

SMALL = {"n_estimators": 60, "min_child_samples": 20}


def _xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[list(FEATURE_NAMES)], frame["label"].to_numpy(dtype=int)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return training_frame(seed=1)


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame) -> RiskModel:
    dates = sorted(frame["as_of_date"].unique())
    X, y = _xy(frame.loc[frame["as_of_date"] < dates[2]])
    Xc, yc = _xy(frame.loc[frame["as_of_date"] == dates[2]])
    return RiskModel(**SMALL, calibration="sigmoid").fit(X, y, X_calib=Xc, y_calib=yc)


def test_fit_refuses_protected_columns(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    for column in ("ethnicity", "sex", "disability", "lead_adult_sex"):
        with pytest.raises(ProtectedFeatureError, match=column):
            RiskModel(**SMALL).fit(X.assign(**{column: 1}), y)


def test_estimator_contract(fitted: RiskModel, frame: pd.DataFrame) -> None:
    params = RiskModel(**SMALL).get_params()
    assert params["n_estimators"] == 60 and params["random_state"] == 0
    assert not hasattr(clone(fitted), "trees_")  # learned state ends in _ and is not cloned
    assert list(fitted.feature_names_in_) == list(FEATURE_NAMES)
    X, _ = _xy(frame.head(50))
    np.testing.assert_allclose(
        fitted.calibrate_log_odds(fitted.decision_function(X)), fitted.predict_proba(X)[:, 1]
    )
    assert set(fitted.predict(X)) <= {0, 1}


def test_same_seed_same_predictions_and_seed_matters(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    a = RiskModel(**SMALL, random_state=3).fit(X, y).predict_proba(X)
    b = RiskModel(**SMALL, random_state=3).fit(X, y).predict_proba(X)
    c = RiskModel(**SMALL, random_state=4).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(RiskModel(**SMALL, random_state=3).fit(X, y).decision_function(X), c)


def test_monotone_constraint_holds(fitted: RiskModel, frame: pd.DataFrame) -> None:
    X, _ = _xy(frame.head(200))
    scores = [fitted.decision_function(X.assign(police_da_incidents_12m=k)) for k in range(6)]
    assert all((later >= earlier - 1e-12).all() for earlier, later in itertools.pairwise(scores))


def test_calibration_on_a_later_slice_improves_ece() -> None:
    # outcomes become more common over time, so the trees' own probabilities are too low later
    frame = training_frame(n_per_date=4000, seed=5, drift=1.0)
    dates = sorted(frame["as_of_date"].unique())
    X, y = _xy(frame.loc[frame["as_of_date"] < dates[2]])
    Xc, yc = _xy(frame.loc[frame["as_of_date"] == dates[2]])
    Xt, yt = _xy(frame.loc[frame["as_of_date"] == dates[3]])
    model = RiskModel(**SMALL, calibration="isotonic").fit(X, y, X_calib=Xc, y_calib=yc)
    ones = np.ones((1, len(yt)), dtype=np.float32)
    before = ece(yt, model.predict_uncalibrated_proba(Xt))(ones)[0]
    after = ece(yt, model.predict_proba(Xt)[:, 1])(ones)[0]
    assert after < before / 2, (before, after)


def test_registry_round_trip_and_refusals(
    fitted: RiskModel, frame: pd.DataFrame, tmp_path: Path
) -> None:
    X, _ = _xy(frame.head(300))
    record = save_risk_model(
        fitted, tmp_path, training_window={"test_date": "2022-07-01"}, metrics={"auc_roc": 0.8}
    )
    path = tmp_path / record.model_file
    loaded, loaded_record = load_risk_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded_record.version == record.version and record.sha256[:12] in record.version
    assert loaded_record.feature_names == tuple(FEATURE_NAMES)

    tampered = tmp_path / "tampered.skops"
    tampered.write_bytes(path.read_bytes() + b"\0")
    tampered.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(UntrustedModelError, match="altered"):
        load_risk_model(tampered)

    with pytest.raises(UntrustedModelError, match="untrusted type"):
        load_risk_model(path, trusted=("lightgbm.basic.Booster",))


def test_registry_refuses_pickle_and_foreign_types(tmp_path: Path) -> None:
    import hashlib
    import json
    import pickle

    def with_record(name: str, data: bytes) -> Path:
        p = tmp_path / name
        p.write_bytes(data)
        record = {"version": "v", "created_at": "t", "sha256": hashlib.sha256(data).hexdigest(),
                  "model_file": name, "feature_names": [], "training_window": {}, "metrics": {}}  # fmt: skip
        p.with_suffix(".json").write_text(json.dumps(record))
        return p

    with pytest.raises(UntrustedModelError, match="not a skops archive"):
        load_risk_model(with_record("evil.skops", pickle.dumps({"a": 1})))
    foreign = sio.dumps(zipfile.Path, compression=zipfile.ZIP_DEFLATED)  # a type we never trust
    with pytest.raises(UntrustedModelError, match="untrusted type"):
        load_risk_model(with_record("foreign.skops", foreign))
    with pytest.raises(UntrustedModelError, match="no provenance record"):
        load_risk_model(tmp_path / "missing.skops")


def test_shap_attributions_add_up_to_calibrated_probability(
    fitted: RiskModel, frame: pd.DataFrame
) -> None:
    X, _ = _xy(frame.head(400))
    exp = explain(fitted, X)
    np.testing.assert_allclose(
        exp.log_odds.sum(axis=1) + exp.log_odds_base, fitted.decision_function(X), atol=1e-9
    )
    np.testing.assert_allclose(
        exp.probability.sum(axis=1) + exp.probability_base, fitted.predict_proba(X)[:, 1], atol=1e-9
    )


def test_the_logistic_model_can_be_approved_explained_and_persisted(tmp_path) -> None:
    """A council may approve the simpler model: it scores, explains and persists like the trees."""
    from model_tables import training_frame

    from safeguard.models import load_risk_model, save_risk_model
    from safeguard.models.estimator import LogisticRiskModel
    from safeguard.models.shap_explain import explain
    from safeguard.models.training import RiskModelConfig, fit_risk_model

    frame = training_frame(n_per_date=1500, seed=2)
    config = RiskModelConfig(
        kind="logistic_baseline", calibration_dates=1, test_dates=3, min_train_dates=2
    )
    fitted = fit_risk_model(frame, config=config)
    assert isinstance(fitted.model, LogisticRiskModel)
    _, _, test = fitted.split.frames(frame)
    X = test[list(fitted.feature_names)].head(200)
    result = explain(fitted.model, X)
    total = result.probability_base + result.probability.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, fitted.model.predict_proba(X)[:, 1], atol=1e-9)
    logit_total = result.log_odds_base + result.log_odds.sum(axis=1).to_numpy()
    np.testing.assert_allclose(logit_total, fitted.model.decision_function(X), atol=1e-9)
    assert result.log_odds["police_da_incidents_12m"].abs().max() > 0  # the signal carries weight
    record = save_risk_model(fitted.model, tmp_path, training_window=fitted.training_window())
    loaded, _ = load_risk_model(tmp_path / record.model_file)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.model.predict_proba(X))
