"""Ground truth of an estate, written apart from the landing drops: who everyone really is, who
lived with whom and where, the true social-care outcomes, and the parameters behind the drop.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.columns import iso_days
from safeguard.synth.config import ETHNICITY_CODES, EstateConfig
from safeguard.synth.events import Events
from safeguard.synth.harm import KINDS
from safeguard.synth.noise import PROFILES
from safeguard.synth.social_care import SocialCare
from safeguard.synth.world import NEVER
from safeguard.synth.writer import person_ids

OUTCOME_TYPES = {2: "s47_enquiry", 4: "cp_plan"}


def family_ids(family: np.ndarray) -> np.ndarray:
    return np.array(["" if f < 0 else f"F{f + 1:07d}" for f in family.tolist()], dtype=object)


def address_ids(address: np.ndarray) -> np.ndarray:
    return np.array(["" if a < 0 else f"A{a + 1:07d}" for a in address.tolist()], dtype=object)


def _write(path: Path, header: list[str], columns: list[np.ndarray]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*(c.tolist() for c in columns), strict=True))


def write_people(out: Path, world: World) -> None:
    """people.csv: identity, family and role at the newest extract, protected traits, latent need."""
    p, h = world.people, world.history
    newest = world.timeline.newest_day
    fam = h.family_of[-1]
    age = (newest - p.dob) / 365.25
    person = np.arange(p.n)
    surname = p.surname_on(person, np.full(p.n, newest - 1))
    _write(out / "people.csv",
           ["true_person_id", "true_family_id", "role", "dob", "sex", "ethnicity", "disability",
            "latent_need", "first_name", "last_name"],
           [person_ids(person), family_ids(fam), np.where(age < 18, "child", "adult").astype(object),
            iso_days(p.dob), np.array(["M", "F"], dtype=object)[p.sex],
            np.array(ETHNICITY_CODES, dtype=object)[p.ethnicity], np.array(["N", "Y"], dtype=object)[p.disability.astype(int)],
            np.array([f"{x:.4f}" for x in h.need[fam].tolist()], dtype=object),
            world.names.given[p.given], world.names.surnames[surname]])  # fmt: skip


def write_families(out: Path, world: World) -> None:
    """families.csv: every family that ever existed and the latent need every agency's events used."""
    need = world.history.need
    _write(out / "families.csv", ["true_family_id", "latent_need"],
           [family_ids(np.arange(len(need))), np.array([f"{x:.4f}" for x in need.tolist()], dtype=object)])  # fmt: skip


def write_hazards(out: Path, world: World, care: SocialCare) -> None:
    """hazards.csv: ``true_family_id, month_start, hazard`` for every family-month with hazard > 0
    from the look-back window of the earliest drop to the newest extract, sorted by family and
    month. ``hazard`` is the exact chance, given the world that month, that a child of the family
    (or an unborn child on the pre-birth pathway) starts a section 47 enquiry in that month (four
    significant digits); a family-month not listed has hazard 0."""
    order = np.lexsort((care.hazard_month, care.hazard_family))
    fam = family_ids(np.arange(world.history.n_families))[care.hazard_family[order]]
    month = iso_days(world.month_starts[care.hazard_month[order]])
    value = _four_digits(care.hazard[order])
    with (out / "hazards.csv").open("w", newline="", encoding="utf-8") as handle:
        handle.write("true_family_id,month_start,hazard\n")
        rows = zip(fam.tolist(), month.tolist(), value.tolist(), strict=True)
        handle.writelines(f"{f},{m},{v}\n" for f, m, v in rows)


def _four_digits(x: np.ndarray) -> np.ndarray:
    """Positive numbers rounded to four significant digits, as strings (formatted once per
    distinct rounded value: millions of rows format in a fraction of a second)."""
    exp = np.floor(np.log10(x)).astype(np.int64) - 3
    digits = np.round(x / 10.0**exp).astype(np.int64)  # 1000..10000
    uniq, inv = np.unique(exp * 100_000 + digits, return_inverse=True)
    e, d = np.divmod(uniq, 100_000)
    text = np.array(
        [f"{dd * 10.0**ee:.4g}" for ee, dd in zip(e.tolist(), d.tolist(), strict=True)],
        dtype=object,
    )
    return text[inv.reshape(-1)]


def write_harm(out: Path, world: World, events: Events, referred: np.ndarray) -> None:
    """harm.csv: every true harm event to a child (never recorded as such by any agency), the
    family the child lived in that day, and whether it led to a social-care referral."""
    order = np.lexsort((events.fields["kind"], events.person, events.day))
    person, day = events.person[order], events.day[order]
    _write(out / "harm.csv", ["true_person_id", "true_family_id", "harm_date", "kind", "referred"],
           [person_ids(person), family_ids(world.family_on(person, day)), iso_days(day),
            np.array(KINDS, dtype=object)[events.fields["kind"][order]],
            np.array(["N", "Y"], dtype=object)[referred[order].astype(int)]])  # fmt: skip


def write_memberships(out: Path, world: World) -> None:
    """memberships.csv: spells in a family at an address, valid_from/valid_to inclusive ('' = current)."""
    s, ms, p = world.spells, world.month_starts, world.people
    start = np.maximum(ms[s.start], p.dob[s.person])
    last = np.where(
        s.stop >= world.history.n_months, NEVER, ms[np.minimum(s.stop, len(ms) - 1)] - 1
    )
    order = np.lexsort((s.start, s.person))
    _write(out / "memberships.csv", ["true_person_id", "true_family_id", "address_id", "valid_from", "valid_to"],
           [person_ids(s.person[order]), family_ids(s.family[order]), address_ids(s.address[order]),
            iso_days(start[order]), iso_days(last[order])])  # fmt: skip


def write_outcomes(out: Path, world: World, episodes: Events) -> None:
    """outcomes.csv: every true section 47 enquiry and child-protection plan start before the newest extract."""
    etype = episodes.fields["etype"]
    mask = np.isin(etype, list(OUTCOME_TYPES)) & (episodes.day < world.timeline.newest_day)
    person, day, kind = episodes.person[mask], episodes.day[mask], etype[mask]
    order = np.lexsort((kind, person, day))
    person, day, kind = person[order], day[order], kind[order]
    fam = world.family_on(person, day)
    _write(out / "outcomes.csv", ["true_person_id", "true_family_id", "outcome_type", "start_date"],
           [person_ids(person), family_ids(fam), np.array([OUTCOME_TYPES[k] for k in kind.tolist()], dtype=object),
            iso_days(day)])  # fmt: skip


def write_addresses(out: Path, world: World) -> None:
    """addresses.csv: the canonical form of every address id (for scoring address matching)."""
    geo = world.geo
    ids = np.arange(len(geo.addr_line))
    _write(out / "addresses.csv", ["address_id", "address_line", "postcode", "postcode_district", "tenure"],
           [address_ids(ids), geo.addr_line, geo.postcodes[geo.addr_postcode], geo.district_code[geo.addr_district],
            np.array(["owner", "private_rent", "social_rent", "temporary"], dtype=object)[geo.addr_tenure]])  # fmt: skip


def write_json(out: Path, name: str, payload: dict[str, Any]) -> None:
    (out / name).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_parameters(out: Path, config: EstateConfig, extracts: list[str]) -> None:
    """config.json, recording_bias.json and identifier_noise.json."""
    write_json(out, "config.json", {**config.as_dict(), "extract_dates": extracts})
    write_json(out, "recording_bias.json", config.recording_bias.as_dict())
    write_json(out, "identifier_noise.json", {k: v.as_dict() for k, v in PROFILES.items()})
