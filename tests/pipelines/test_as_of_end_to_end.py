"""`--as-of`: the whole run stands at that date, and nothing recorded after it is used.

One run of a small estate at an as-of date six months before its extract; every table that
feeds features, labels, families, the model and the reports is checked against that date,
the linkage included (no record dated after it is linked), and subject access refuses to
answer from that linkage rather than miss the later records.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta
from lax_council import LAX

from safeguard.contracts.landing import AGENCY_SOURCES, event_date_column
from safeguard.dpia.audit import AuditLog
from safeguard.features.point_in_time import known_at
from safeguard.governance import LinkageIncomplete, subject_access
from safeguard.pipelines.runner import RunOutcome, run_pipeline
from safeguard.synth import EstateConfig, generate_estate

EXTRACT = date(2026, 11, 1)
AS_OF = date(2026, 5, 1)
HORIZON_MONTHS = 12


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("as-of-estate")
    landing, truth = root / "landing", root / "truth"
    generate_estate(
        EstateConfig(people=2000, seed=5, history_months=0, extract_date=EXTRACT),
        out=landing,
        truth_out=truth,
    )
    return landing, truth


@pytest.fixture(scope="module")
def past_run(estate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    landing, truth = estate
    return run_pipeline(
        landing=landing,
        data_dir=tmp_path_factory.mktemp("as-of-data"),
        truth_dir=truth,
        as_of=AS_OF.isoformat(),
        council=LAX,
    )


def _table(run: RunOutcome, name: str, db: str = "warehouse") -> pd.DataFrame:
    with duckdb.connect(str(run.data_dir / f"{db}.duckdb"), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{name}"').df()


def _record_dates(run: RunOutcome) -> pd.DataFrame:
    """``source, record_pseudo, record_date`` of every accepted agency record."""
    frames = []
    for source in AGENCY_SOURCES:
        column = event_date_column(source)
        table = _table(run, f"{source}_records")[["record_pseudo", column]]
        frames.append(table.rename(columns={column: "record_date"}).assign(source=source))
    return pd.concat(frames, ignore_index=True)


def _latest(series: pd.Series) -> date:
    return pd.Timestamp(series.max()).date()


def test_the_drop_holds_records_after_the_as_of_date(estate: tuple[Path, Path]) -> None:
    """Otherwise the rest of this module would prove nothing."""
    landing, _ = estate
    police = pd.read_csv(next(landing.iterdir()) / "police.csv", dtype=str)
    dates = pd.to_datetime(police["incident_date"], errors="coerce", format="ISO8601")
    assert (dates > pd.Timestamp(AS_OF)).sum() > 50


def test_no_event_recorded_after_the_as_of_date_is_used(past_run: RunOutcome) -> None:
    assert "events" in past_run.materialised, past_run.error
    events = _table(past_run, "events")
    assert len(events) > 1000
    assert _latest(events["event_date"]) <= AS_OF
    assert _latest(events["end_date"].dropna()) <= AS_OF  # an episode closed later is open


def test_features_families_and_training_stand_at_the_as_of_date(past_run: RunOutcome) -> None:
    features = _table(past_run, "family_features")
    assert set(pd.to_datetime(features["as_of_date"]).dt.date) == {AS_OF}
    families = _table(past_run, "families")
    assert _latest(families["valid_from"]) <= AS_OF
    assert _latest(_table(past_run, "family_snapshots")["as_of_date"]) < AS_OF
    frame = _table(past_run, "training_frame")
    assert _latest(frame["as_of_date"]) < AS_OF  # the training window ends by the as-of date
    # a label whose outcome window runs past the as-of date is never complete
    window_end = pd.to_datetime(frame["as_of_date"]) + pd.DateOffset(months=HORIZON_MONTHS)
    assert not frame.loc[window_end > pd.Timestamp(AS_OF), "label_complete"].any()
    assert frame.loc[window_end <= pd.Timestamp(AS_OF), "label_complete"].all()


def test_the_model_and_the_review_pack_carry_the_as_of_date(past_run: RunOutcome) -> None:
    records = sorted((past_run.data_dir / "artefacts" / "models").glob("risk_model-*.json"))
    assert records, past_run.error
    window = json.loads(records[-1].read_text())["training_window"]
    dates = [*window["train_dates"], *window["calibration_dates"], *window["test_dates"]]
    assert max(date.fromisoformat(d) for d in dates) < AS_OF
    pack = (past_run.data_dir / "reports" / "review_pack.md").read_text(encoding="utf-8")
    assert "Not yet available in this run" not in pack.split("As-of date", 1)[1][:80]
    assert f"| As-of date | {AS_OF.isoformat()} |" in pack


def test_an_as_of_date_after_the_extract_is_refused_before_any_work(
    estate: tuple[Path, Path], tmp_path: Path
) -> None:
    landing, _ = estate
    later = EXTRACT + relativedelta(days=1)
    outcome = run_pipeline(landing=landing, data_dir=tmp_path / "data", as_of=later.isoformat())
    assert not outcome.success
    assert "after the extract date 2026-11-01" in (outcome.error or "")
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()
    assert outcome.materialised == {}


def test_materialisations_carry_dagsters_row_count(past_run: RunOutcome) -> None:
    import dagster as dg

    from safeguard.pipelines.instance import _instance

    with _instance(past_run.data_dir) as instance:
        for name in ("events", "family_features", "training_frame", "police_records"):
            event = instance.get_latest_materialization_event(dg.AssetKey(name))
            metadata = event.asset_materialization.metadata
            expected = len(_table(past_run, name))
            assert metadata["dagster/row_count"].value == expected, name
        landing = instance.fetch_observations(dg.AssetKey("landing_police"), limit=1).records
        assert landing and landing[0].asset_observation.metadata["dagster/row_count"].value > 0


def test_no_identity_dated_after_the_as_of_date_is_linked(past_run: RunOutcome) -> None:
    """A UPN or a bridging record first recorded later cannot shape the clusters at AS_OF."""
    vault = _table(past_run, "identity_vault", db="vault")
    dates = _record_dates(past_run)
    agency = vault[vault["source"] != "objections"].merge(
        dates, on=["source", "record_pseudo"], how="left", validate="one_to_one"
    )
    later = pd.to_datetime(agency["record_date"]) > pd.Timestamp(AS_OF)
    assert later.sum() > 100  # the drop holds later identities
    assert agency["record_date"].notna().all()
    linked = agency["person_key"].notna()
    assert not (linked & later).any(), "a record dated after the as-of date was linked"
    assert linked[~later].all()  # everything known at the as-of date is linked
    assert (agency["linked"] == ~later).all()
    assert set(pd.to_datetime(vault["linkage_as_of"]).dt.date) == {AS_OF}
    links = _table(past_run, "record_links").merge(dates, on=["source", "record_pseudo"])
    assert len(links) == int(linked.sum())
    assert _latest(links["record_date"]) <= AS_OF


def test_every_identity_is_still_held_and_accounted_for(past_run: RunOutcome) -> None:
    """Later records are kept (vault and warehouse) and counted, never quarantined for it."""
    vault = _table(past_run, "identity_vault", db="vault")
    for source in AGENCY_SOURCES:
        held = _table(past_run, f"identity_{source}", db="vault")
        assert (vault["source"] == source).sum() == len(held), source
    accounting = _table(past_run, "row_accounting").set_index("file")
    dates = _record_dates(past_run)
    for source in AGENCY_SOURCES:
        row = accounting.loc[f"{source}.csv"]
        assert row["rows_read"] == row["rows_accepted"] + row["rows_quarantined"]
        mine = dates[dates["source"] == source]
        after = int((pd.to_datetime(mine["record_date"]) > pd.Timestamp(AS_OF)).sum())
        assert row["rows_after_as_of"] == after > 0, source
    unlinked = int((~vault["linked"]).sum())
    assert unlinked == int(accounting["rows_after_as_of"].sum())
    quality = _table(past_run, "linkage_quality").set_index("metric")["value"]
    assert quality["records_after_as_of"] == unlinked
    assert quality["records"] == len(vault) - unlinked


def test_subject_access_refuses_a_linkage_that_stood_before_the_extract(
    past_run: RunOutcome, estate: tuple[Path, Path]
) -> None:
    """A person known only from records dated after the as-of date must never get "nothing held"."""
    _, truth = estate
    vault = _table(past_run, "identity_vault", db="vault")
    people = pd.read_csv(truth / "records.csv", dtype=str).drop_duplicates(
        ["source", "record_key"], keep="last"
    )
    vault = vault.merge(people, on=["source", "record_key"])
    only_later = vault.groupby("true_person_id")["linked"].transform("max") == False  # noqa: E712
    assert only_later.any(), "no person of the estate is known only from later records"
    person = vault[only_later].iloc[0]
    before = len(list(AuditLog(past_run.data_dir / "audit" / "audit.jsonl").entries()))
    with pytest.raises(LinkageIncomplete) as refused:
        subject_access(
            past_run.data_dir,
            first_name=person["first_name"],
            last_name=person["last_name"],
            dob=pd.Timestamp(person["dob"]).date(),
            requested_by="data_team",
        )
    message = str(refused.value)
    assert "stands at 2026-05-01" in message and "extracted 2026-11-01" in message
    assert "without --as-of" in message
    assert person["first_name"] not in message and person["last_name"] not in message
    entries = list(AuditLog(past_run.data_dir / "audit" / "audit.jsonl").entries())
    assert len(entries) == before + 1 and entries[-1].action == "sar"


def test_at_the_extract_date_every_record_is_known() -> None:
    """The default as-of links exactly what it always did, an undated record included."""
    dates = pd.Series(pd.to_datetime(["2026-04-30", "2026-05-01", "2026-05-02", None]))
    assert known_at(dates, EXTRACT, EXTRACT).tolist() == [True] * 4
    assert known_at(dates, AS_OF, EXTRACT).tolist() == [True, True, False, False]
