"""Fixtures for the governance tests: one linked synthetic data directory per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from governance_estate import build_estate

from safeguard.dpia.audit import AuditLog
from safeguard.dpia.register import DpiaRegister, load_register
from safeguard.governance.profile import GovernanceProfile, load_profile

RECORDS = [
    f"{s}_records" for s in ("social_care", "education", "housing", "police", "revenues_benefits")
]
# The asset graph as the pipeline wires it (the lead builds the real one from Dagster).
DEPS: dict[str, list[str]] = {
    **{f"{s}_records": [f"landing_{s}"] for s in ("social_care", "education", "housing", "police", "revenues_benefits")},
    "workers": ["landing_workers"], "areas": ["landing_areas"], "objections": ["landing_objections"],
    "quarantine": [f"landing_{s}" for s in ("social_care", "education", "housing", "police", "revenues_benefits")],
    "identity_vault": RECORDS, "record_links": ["identity_vault"],
    "people": ["record_links", *RECORDS], "linkage_quality": ["record_links", "identity_vault"],
    "protected_characteristics": ["record_links", "social_care_records", "education_records", "police_records"],
    "families": ["record_links", "people", *RECORDS], "events": ["record_links", *RECORDS],
    "family_features": ["events", "families"], "training_frame": ["family_features"],
    "risk_model": ["training_frame"], "model_evaluation": ["risk_model"],
    "fairness_audit": ["risk_model", "protected_characteristics"],
    "model_card": ["model_evaluation", "fairness_audit"],
    "family_scores": ["risk_model", "family_features"],
    "flags": ["family_scores", "workers", "objections", "families"],
    "flag_explanations": ["flags", "events"], "global_explanations": ["risk_model"],
    "caseloads": ["flags", "flag_explanations"],
}  # fmt: skip


@pytest.fixture(scope="session")
def register() -> DpiaRegister:
    return load_register()


@pytest.fixture(scope="session")
def profile() -> GovernanceProfile:
    return load_profile()


@pytest.fixture(scope="session")
def lineage(register: DpiaRegister) -> list[dict[str, object]]:
    """Lineage nodes in the plain shape the pipeline hands over (no ``pseudonymised`` key)."""
    return [
        {"name": name, "deps": tuple(DEPS.get(name, ())), "categories": record.data_categories,
         "personal": record.personal_data}
        for name, record in register.assets.items()
    ]  # fmt: skip


@pytest.fixture(scope="session")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The linked data directory (read-only use) and the planted record pseudonyms by key."""
    data_dir = tmp_path_factory.mktemp("estate") / "data"
    return data_dir, build_estate(data_dir)


@pytest.fixture()
def estate_copy(estate: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A private copy of the data directory for tests that write (SAR audit, purge)."""
    target = tmp_path / "data"
    shutil.copytree(estate[0], target)
    AuditLog(target / "audit" / "audit.jsonl").adopt()  # a copied trail is re-anchored explicitly
    return target
