"""The governance profile: the assessment the DPIA register does not hold.

The register (``dpia/register.yaml``) records legal facts: bases, conditions, categories,
retention. The ICO DPIA template and the ATRS also need an assessment: the need, who was
consulted, the risks with likelihood and severity, the measures and who approved them, and the
transparency narrative. That lives in ``governance/profile.yaml`` (or the file named by
``SAFEGUARD_GOVERNANCE_PROFILE``), loaded here into frozen pydantic models with errors that name
the YAML path of the bad field.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

__all__ = [
    "PROFILE_ENV_VAR",
    "GovernanceProfile",
    "GovernanceProfileError",
    "Likelihood",
    "Risk",
    "Severity",
    "load_profile",
]

PROFILE_ENV_VAR = "SAFEGUARD_GOVERNANCE_PROFILE"

Text = Annotated[str, StringConstraints(min_length=1)]
Likelihood = Literal["remote", "possible", "probable"]
Severity = Literal["minimal", "significant", "severe"]


class GovernanceProfileError(ValueError):
    """The profile file is missing, not YAML, or has invalid fields (all named)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Right(_Model):
    right: Text
    how: Text


class Processor(_Model):
    name: Text
    role: Text
    contract: Text


class Consultation(_Model):
    stakeholder: Text
    method: Text
    date: date
    response: Text
    how_addressed: Text


class Control(_Model):
    """A control the pipeline runs; ``gate`` matches the names of its blocking checks."""

    name: Text
    where: Text
    gate: str | None = None


class Risk(_Model):
    """One risk of the ICO template's step 5, with its step 6 measures (control ids)."""

    id: Text
    title: Text
    description: Text
    likelihood: Likelihood
    severity: Severity
    measures: tuple[str, ...] = Field(min_length=1)
    effect: Literal["eliminated", "reduced", "accepted"]
    residual_likelihood: Likelihood
    residual_severity: Severity


class SignOff(_Model):
    measures_approved_by: Text
    residual_risks_approved_by: Text
    dpo_advice: Text
    dpo_advice_followed: bool
    dpo_comments: Text
    consultation_responses_reviewed_by: Text
    consultation_summary: Text
    review_owner: Text


class ImpactAssessment(_Model):
    name: Text
    date: date
    link: Text
    summary: Text


class Atrs(_Model):
    """ATRS fields that are narrative rather than measured (Tier 1 and Tier 2)."""

    identifier: Text
    standard_version: Text
    date_completed: date
    name: Text
    organisation: Text
    function: Text
    phase: Literal["pre-deployment", "beta", "production", "retired"]
    website: Text
    contact_email: Text
    description: Text
    team: Text
    senior_responsible_owner: Text
    external_supplier: Text
    supplier_role: Text
    data_access_terms: Text
    scope: Text
    previous_process: Text
    alternatives_considered: tuple[str, ...] = Field(min_length=1)
    process_integration: Text
    provided_information: Text
    frequency_and_scale: Text
    human_decisions_and_review: Text
    training: Text
    appeals: Text
    architecture: Text
    maintenance: Text
    model_type: Text
    model_task: Text
    model_outputs: Text
    impact_assessments: tuple[ImpactAssessment, ...] = ()


class GovernanceProfile(_Model):
    """The whole profile; measures must name defined controls."""

    profile_version: int
    need: Text
    region: Text
    context: tuple[str, ...] = Field(min_length=1)
    benefits: tuple[str, ...] = Field(min_length=1)
    necessity: tuple[str, ...] = Field(min_length=1)
    minimisation: tuple[str, ...] = Field(min_length=1)
    accuracy: tuple[str, ...] = Field(min_length=1)
    information_to_individuals: tuple[str, ...] = Field(min_length=1)
    rights: tuple[Right, ...] = Field(min_length=1)
    processors: tuple[Processor, ...] = Field(min_length=1)
    consultation: tuple[Consultation, ...] = Field(min_length=1)
    controls: dict[str, Control] = Field(min_length=1)
    risks: tuple[Risk, ...] = Field(min_length=1)
    sign_off: SignOff
    atrs: Atrs

    @model_validator(mode="after")
    def _measures_name_controls(self) -> GovernanceProfile:
        unknown = [
            f"risks[{i}].measures: {m!r} is not one of controls ({', '.join(self.controls)})"
            for i, risk in enumerate(self.risks)
            for m in risk.measures
            if m not in self.controls
        ]
        if unknown:
            raise ValueError("\n  ".join(unknown))
        return self


def default_profile_path() -> Path:
    """The packaged ``profile.yaml``.

    A council's own copy is passed in by the caller: the code location takes it from the
    ``governance_profile`` setting (``$SAFEGUARD_GOVERNANCE_PROFILE``).
    """
    return Path(str(resources.files("safeguard.governance") / "profile.yaml"))


def load_profile(path: Path | None = None) -> GovernanceProfile:
    """Load and validate the governance profile.

    Parameters
    ----------
    path : pathlib.Path, optional
        The YAML file; default :func:`default_profile_path`.

    Raises
    ------
    GovernanceProfileError
        When the file cannot be read, is not YAML, or a field is invalid; the message names
        the file and the YAML path of each bad field.
    """
    source = Path(path) if path is not None else default_profile_path()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise GovernanceProfileError(f"cannot read governance profile {source}: {error}") from error
    except yaml.YAMLError as error:
        raise GovernanceProfileError(f"governance profile {source} is not YAML: {error}") from error
    try:
        return GovernanceProfile.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"  {where}: {message}" if where else f"  {message}")
        raise GovernanceProfileError(
            f"governance profile {source} is invalid:\n" + "\n".join(problems)
        ) from None
