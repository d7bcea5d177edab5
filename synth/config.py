"""Typed configuration of a synthetic estate: size, seed, dates, scenario and recording bias.

Validated at the edge so that a bad value fails before minutes of generation, with a message that
names the field and the rule.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any

#: Ethnicity codes of the landing contract (DfE/CIN census style).
ETHNICITY_CODES: tuple[str, ...] = (
    "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
    "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
)  # fmt: skip

#: Scenarios that change what a drop looks like (not the world behind it).
SCENARIOS: tuple[str, ...] = ("data-loss",)

#: Largest estate the generator is tuned and tested for (five councils of ~75k people).
MAX_PEOPLE = 2_000_000
MIN_PEOPLE = 200
MAX_COUNCILS = 8
MAX_HISTORY_MONTHS = 24


class ConfigError(ValueError):
    """An estate configuration value is out of range; the message names the field and the rule."""


class GenerationError(RuntimeError):
    """The simulated world outgrew what the generator sized for (a bug or an extreme setting)."""


@dataclass(frozen=True)
class RecordingBias:
    """How one agency over-records one group at equal need (on by default).

    The world behind the estate is fair: latent need, and therefore the true social-care outcomes,
    do not depend on ethnicity. What differs is what gets *recorded*: police record antisocial
    behaviour (any role) and "subject" involvements (any incident type) for people in ``group`` at
    ``police_asb_subject_multiplier`` times the rate of other people with the same need. A model
    trained on the drop can therefore learn a proxy for ethnicity, and the fairness audit has a
    known effect to find. The parameters are written to ``truth/recording_bias.json``.

    Parameters
    ----------
    enabled
        Switch the bias off to get an estate with no recording bias (a control for the audit).
    group
        Semicolon-separated contract ethnicity codes whose members are over-recorded. The default
        (Black Caribbean, Black African, any other Black background, mixed White and Black
        Caribbean) follows the groups the ACLU/HRDAG audit of the Allegheny tool found scored higher.
    police_asb_subject_multiplier
        Recording rate ratio for ASB and "subject" police involvements at equal need.
    police_referral_multiplier
        Ratio applied to the chance that a police incident leads to a social-care referral for the
        group (label bias). 1.0 (off) by default, so outcomes stay unbiased unless asked for.
    """

    enabled: bool = True
    group: str = "BCRB;BAFR;BOTH;MWBC"
    police_asb_subject_multiplier: float = 1.5
    police_referral_multiplier: float = 1.0

    def __post_init__(self) -> None:
        unknown = [code for code in self.codes if code not in ETHNICITY_CODES]
        if not self.codes or unknown:
            raise ConfigError(
                f"recording_bias.group {self.group!r}: every code must be a contract ethnicity "
                f"code (unknown: {unknown or 'none given'})"
            )
        for name in ("police_asb_subject_multiplier", "police_referral_multiplier"):
            value = getattr(self, name)
            if not 0.1 <= value <= 10.0:
                raise ConfigError(f"recording_bias.{name} = {value}: must be within 0.1..10")

    @property
    def codes(self) -> tuple[str, ...]:
        """The ethnicity codes of the over-recorded group."""
        return tuple(code.strip() for code in self.group.split(";") if code.strip())

    def effective(self, name: str) -> float:
        """Return a multiplier as applied (1.0 for every parameter when the bias is disabled)."""
        return float(getattr(self, name)) if self.enabled else 1.0

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form written to the ground truth."""
        return {**asdict(self), "codes": list(self.codes)}


@dataclass(frozen=True)
class EstateConfig:
    """What estate to generate.

    Parameters
    ----------
    people
        People in the estate at the newest extract date (everyone ever resident in the simulated
        years, including children born during them).
    seed
        Random seed; the same config gives byte-identical files.
    extract_date
        The newest extract date; earlier extracts are monthly before it.
    councils
        Councils in the region; each has its own postcode area letters and agency systems.
    history_months
        Number of earlier monthly extracts written besides the newest one.
    scenario
        ``None`` or ``"data-loss"`` (the newest police extract loses ~40% of its rows).
    recording_bias
        Recording bias planted in the police extract (on by default).
    """

    people: int = 20_000
    seed: int = 7
    extract_date: datetime.date = datetime.date(2026, 11, 1)
    councils: int = 1
    history_months: int = 1
    scenario: str | None = None
    recording_bias: RecordingBias = field(default_factory=RecordingBias)

    def __post_init__(self) -> None:
        if not MIN_PEOPLE <= self.people <= MAX_PEOPLE:
            raise ConfigError(f"people = {self.people}: must be within {MIN_PEOPLE}..{MAX_PEOPLE}")
        if not 1 <= self.councils <= MAX_COUNCILS:
            raise ConfigError(f"councils = {self.councils}: must be within 1..{MAX_COUNCILS}")
        if self.people // self.councils < MIN_PEOPLE:
            raise ConfigError(
                f"people = {self.people} over councils = {self.councils}: each council needs at "
                f"least {MIN_PEOPLE} people"
            )
        if not 0 <= self.history_months <= MAX_HISTORY_MONTHS:
            raise ConfigError(
                f"history_months = {self.history_months}: must be within 0..{MAX_HISTORY_MONTHS}"
            )
        if self.scenario is not None and self.scenario not in SCENARIOS:
            raise ConfigError(f"scenario {self.scenario!r}: must be one of {list(SCENARIOS)}")
        if not isinstance(self.extract_date, datetime.date) or isinstance(
            self.extract_date, datetime.datetime
        ):
            raise ConfigError(f"extract_date {self.extract_date!r}: must be a datetime.date")
        if not datetime.date(2015, 1, 1) <= self.extract_date <= datetime.date(2100, 1, 1):
            raise ConfigError(f"extract_date {self.extract_date}: must be within 2015..2100")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed = {self.seed!r}: must be a non-negative integer")

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form written to ``truth/config.json``."""
        return {
            "people": self.people,
            "seed": self.seed,
            "extract_date": self.extract_date.isoformat(),
            "councils": self.councils,
            "history_months": self.history_months,
            "scenario": self.scenario,
            "recording_bias": self.recording_bias.as_dict(),
        }
