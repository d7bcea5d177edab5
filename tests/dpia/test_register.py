"""The DPIA register: every asset has a record, errors name the YAML path, lineage holds."""

from __future__ import annotations

import json

import pytest
import yaml

from safeguard.dpia.register import (
    NOT_APPLICABLE,
    REGISTER_ENV_VAR,
    DpiaRegisterError,
    MissingDpiaRecord,
    UnknownDataCategory,
    default_register_path,
    load_register,
)

SOURCES = ["social_care", "education", "housing", "police", "revenues_benefits"]
RECORDS = [f"{s}_records" for s in SOURCES]
LANDING = [f"landing_{s}" for s in [*SOURCES, "workers", "objections", "areas"]]
GOVERNANCE = [
    "dpia_report",
    "record_of_processing",
    "transparency_record",
    "data_flow_map",
    "review_pack",
]

MONITORING_INPUTS = ["family_scores_history", "events", "families", "people",
                     "protected_characteristics", "areas", "training_frame", "risk_model", "workers"]  # fmt: skip

# The asset graph the pipeline will have (asset -> direct upstream assets).
# fmt: off
UPSTREAM: dict[str, list[str]] = {
    **{name: [] for name in LANDING},
    **{f"{s}_records": [f"landing_{s}"] for s in SOURCES},
    "workers": ["landing_workers"],
    "areas": ["landing_areas"],
    "objections": ["landing_objections"],
    "quarantine": LANDING,
    "firewall_log": LANDING,
    "row_accounting": LANDING,
    "identity_vault": RECORDS,
    "record_links": ["identity_vault"],
    "people": ["record_links", *RECORDS],
    "protected_characteristics": ["record_links", "social_care_records", "education_records", "police_records"],
    "families": ["record_links", "people", *RECORDS],
    "family_snapshots": ["record_links", "people", *RECORDS],
    "linkage_quality": ["record_links", "identity_vault"],
    "events": [*RECORDS, "record_links"],
    "family_features": ["events", "families", "people"],
    "training_frame": ["events", "family_snapshots", "families", "people", "objections", "record_links"],
    "risk_model": ["training_frame"],
    "model_evaluation": ["risk_model", "training_frame", "workers"],
    "fairness_audit": ["risk_model", "training_frame", "protected_characteristics", "family_snapshots",
                       "events", "people", "areas", "workers"],
    "model_card": ["risk_model", "model_evaluation", "fairness_audit"],
    "family_scores": [
        "risk_model", "family_features", "model_evaluation", "fairness_audit", "events", "families",
        "monitoring_triggers",
    ],
    "family_scores_history": [
        "events", "record_links", "people", "risk_model", "model_evaluation", "fairness_audit",
        *RECORDS,
    ],
    **{name: MONITORING_INPUTS for name in ("monitoring_performance", "monitoring_fairness",
                                              "monitoring_drift", "monitoring_overrides")},
    "monitoring_triggers": ["monitoring_performance", "monitoring_fairness", "monitoring_drift"],
    "monitoring_report": ["monitoring_triggers", "monitoring_overrides"],
    "flags": ["family_scores", "workers", "objections", "identity_vault", "families", "areas"],
    "flag_explanations": ["flags", "risk_model", "family_features", "events"],
    "global_explanations": ["risk_model", "family_features"],
    "caseloads": ["flags", "flag_explanations", "workers"],
    "data_docs": RECORDS,
    **{
        name: ["quarantine", "firewall_log", "row_accounting", "linkage_quality", "model_card",
               "fairness_audit", "model_evaluation", "global_explanations", "data_docs", "caseloads"]
        for name in GOVERNANCE
    },
}
# fmt: on


@pytest.fixture(scope="module")
def register():
    return load_register()


def _write(tmp_path, mutate):
    raw = yaml.safe_load(default_register_path().read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_every_asset_has_exactly_one_record(register):
    assert set(register.assets) == set(UPSTREAM)


def test_asset_metadata_is_flat_plain_and_complete(register):
    for asset in UPSTREAM:
        metadata = register.asset_metadata(asset)
        assert json.loads(json.dumps(metadata)) == metadata
        assert all(key.startswith("dpia/") for key in metadata)
        assert isinstance(metadata["dpia/personal_data"], bool)
        assert (
            isinstance(metadata["dpia/data_categories"], list) and metadata["dpia/data_categories"]
        )
    police = register.asset_metadata("police_records")
    assert police["dpia/lawful_basis"].startswith("UK GDPR Art 6(1)(e)")
    assert "Art 10" in police["dpia/criminal_offence_basis"]
    assert "Sch 1 Pt 2 para 18" in police["dpia/special_category_condition"]
    assert police["dpia/pseudonymised"] is True and police["dpia/personal_data"] is True
    assert police["dpia/retention"] == "72 months from the record's event date, then delete"
    assert police["dpia/data_sharing_agreement"] == "DSA-NB-2026-PO-04"
    assert (
        "Children Act 1989 s47 (enquiries where significant harm is suspected)"
        in police["dpia/statutory_gateways"]
    )
    fairness = register.asset_metadata("protected_characteristics")
    assert "para 8" in fairness["dpia/special_category_condition"]
    assert fairness["dpia/special_categories"] == ["ethnicity", "health_disability"]
    areas = register.asset_metadata("areas")
    assert areas["dpia/personal_data"] is False
    assert areas["dpia/special_category_condition"] == NOT_APPLICABLE


def test_checks_inherit_their_asset_record(register):
    metadata = register.check_metadata("police_records", "police_records_suite")
    assert metadata["dpia/inherited_from"] == "police_records"
    assert metadata.items() >= register.asset_metadata("police_records").items()


def test_unknown_asset_names_the_asset_and_the_file(register):
    with pytest.raises(MissingDpiaRecord, match=r"'prison_records'.*register\.yaml"):
        register.asset_metadata("prison_records")
    with pytest.raises(MissingDpiaRecord, match="prison_records"):
        register.retention_for("prison_records")


def test_retention_and_categories(register):
    assert register.retention_for("quarantine").period_months == 6
    assert register.retention_for("source_records").period_months == 72
    assert register.retention_for("objections").period_months is None  # reviewed, never purged
    assert register.is_personal_category("criminal_offence")
    assert not register.is_personal_category("aggregate_statistics")
    with pytest.raises(UnknownDataCategory, match="immigration"):
        register.is_personal_category("immigration")


def test_lineage_is_consistent(register):
    assert register.lineage_problems(UPSTREAM) == []


def test_lineage_check_catches_categories_from_nowhere_and_missing_conditions(register):
    graph = {**UPSTREAM, "family_scores": []}  # scores with no upstream at all
    assert register.lineage_problems(graph) == [
        "family_scores: personal category 'identity' is carried by none of its upstream "
        "assets (none)",
        "family_scores: personal category 'contact_address' is carried by none of its upstream "
        "assets (none)",
        "family_scores: personal category 'derived_risk_indicator' is carried by none of its "
        "upstream assets (none)",
    ]
    graph = {**UPSTREAM, "workers": ["landing_workers", "police_records"]}
    assert register.lineage_problems(graph) == [
        "workers: derived from criminal-offence data but activity 'practitioner_allocation' "
        "has no criminal_offence_basis",
    ]
    graph = {**UPSTREAM, "areas": ["landing_areas", "education_records"]}
    assert register.lineage_problems(graph) == [
        "areas: derived from special-category data but activity 'reference_geography' "
        "has no special_category_condition",
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["assets"]["flags"].update(personal_data="maybe"),
            r"assets\.flags\.personal_data: Input should be a valid boolean",
        ),
        (
            lambda r: r["assets"]["flags"]["data_categories"].append("immigration"),
            r"assets\.flags\.data_categories\[4\]: 'immigration' is not in data_categories",
        ),
        (
            lambda r: r["assets"]["flags"].update(processing_activity="marketing"),
            r"assets\.flags\.processing_activity: 'marketing'",
        ),
        (
            lambda r: r["assets"]["flags"].update(retention="forever"),
            r"assets\.flags\.retention: 'forever'",
        ),
        (
            lambda r: r["assets"]["flags"].update(colour="red"),
            r"assets\.flags\.colour: Extra inputs are not permitted",
        ),
        (
            lambda r: r["assets"]["areas"].update(personal_data=True),
            r"assets\.areas\.personal_data: True contradicts",
        ),
        (
            lambda r: r["assets"]["landing_police"].pop("data_sharing_agreement"),
            r"assets\.landing_police\.data_sharing_agreement: external",
        ),
        (
            lambda r: r["processing_activities"]["agency_data_ingest"].pop(
                "criminal_offence_basis"
            ),
            r"assets\.police_records: carries criminal-offence data",
        ),
        (
            lambda r: r["retention"]["quarantine"].pop("period_months"),
            r"retention\.quarantine: action 'delete' needs period_months",
        ),
        (lambda r: r["dpia"].update(review_date="next year"), r"dpia\.review_date"),
        (lambda r: r.pop("controller"), r"controller: Field required"),
    ],
)
def test_invalid_register_errors_name_the_yaml_path(tmp_path, mutate, message):
    path = _write(tmp_path, mutate)
    with pytest.raises(DpiaRegisterError, match=message) as raised:
        load_register(path)
    assert str(path) in str(raised.value)


def test_duplicate_keys_and_broken_yaml_are_refused(tmp_path):
    text = default_register_path().read_text(encoding="utf-8")
    duplicated = tmp_path / "dup.yaml"
    duplicated.write_text(text + "\ncontroller: {name: x, address: y, ico_registration: z}\n")
    with pytest.raises(DpiaRegisterError, match="duplicate key 'controller'"):
        load_register(duplicated)
    broken = tmp_path / "broken.yaml"
    broken.write_text("assets: [unclosed\n")
    with pytest.raises(DpiaRegisterError, match="not valid YAML"):
        load_register(broken)
    with pytest.raises(DpiaRegisterError, match="cannot read"):
        load_register(tmp_path / "missing.yaml")


def test_a_councils_register_is_passed_in_not_read_from_the_environment(tmp_path, monkeypatch):
    # the setting (SAFEGUARD_DPIA_REGISTER) is read by the settings model and passed in by the
    # code location (tests/pipelines/test_code_location_settings.py); dpia reads no environment
    path = _write(tmp_path, lambda r: r["controller"].update(name="Southby Council"))
    monkeypatch.setenv(REGISTER_ENV_VAR, str(path))
    assert load_register().source_path == str(default_register_path())
    register = load_register(path)
    assert register.asset_metadata("flags")["dpia/controller"] == "Southby Council"
    assert register.source_path == str(path)
