"""Turn true events into the five agency files: registrations, noisy identities, event columns
and record keys, in the landing contract's column order.
"""

from __future__ import annotations

import numpy as np

from safeguard.synth import benefits, education, housing, police, social_care
from safeguard.synth.build import World
from safeguard.synth.columns import BeforeBirth, Col, Const, Dates, Ints, Keys, Money, Table, Vocab
from safeguard.synth.config import ETHNICITY_CODES
from safeguard.synth.events import Events
from safeguard.synth.ids import upn_check_letter
from safeguard.synth.noise import PROFILES
from safeguard.synth.police_extras import extra_columns
from safeguard.synth.registry import Registrations, identity_columns, register
from safeguard.synth.world import NEVER

YN = np.array(["N", "Y"], dtype=object)


def _window(
    events: Events, visible: np.ndarray, last: np.ndarray, newest: int, first_window: int
) -> Events:
    keep = (visible < newest) & (last >= first_window)
    out = events.select(keep)
    out.fields["_visible"], out.fields["_last"] = visible[keep], last[keep]
    return out.sorted()


def _prefix(world: World, regs: Registrations, letter: str) -> tuple[tuple[str, ...], np.ndarray]:
    prefixes = tuple(f"{c}{letter}" for c in world.geo.council_letters)
    return prefixes, regs.council[regs.of_row].astype(np.int64)


def _table(source: str, ev: Events, key_col: str, columns: dict[str, Col]) -> Table:
    return Table(source, ev.person, ev.fields["_visible"], ev.fields["_last"], columns, key_col)


def social_care_table(rng: np.random.Generator, world: World, ev: Events, window: tuple[int, int],
                      upn_of: dict[int, str]) -> Table:  # fmt: skip
    end = ev.fields["end"]
    ev = _window(ev, ev.day, end, *window)
    profile = PROFILES["social_care"]
    regs = register(rng, world, "social_care", ev.person, ev.day, profile)
    ident = identity_columns(rng, world, regs, ev.person, ev.day, profile)
    prefixes, kinds = _prefix(world, regs, "C")
    n_reg = len(regs.person)
    nhs = world.people.nhs_number[regs.person]
    nhs_str = np.array([str(x) for x in nhs.tolist()], dtype=object)
    has_nhs = rng.random(n_reg) < 0.75
    upn_known = np.array([upn_of.get(int(p), "") for p in regs.person.tolist()], dtype=object)
    has_upn = (upn_known != "") & (rng.random(n_reg) < 0.6)
    eth = _recorded_ethnicity(rng, world.people.ethnicity[regs.person])
    disability = np.where(
        rng.random(n_reg) < 0.1, 2, world.people.disability[regs.person].astype(int)
    )
    r = regs.of_row
    # Pre-birth episodes: in a drop cut before the birth the system holds an unborn child
    # ("Unborn", sex unknown, the expected date of delivery, no NHS number yet).
    dob = world.people.dob[ev.person]
    due = world.people.dob[regs.person] + np.round(rng.normal(0, 7, n_reg)).astype(np.int64)

    def until_birth(col: Col, before: Col) -> Col:
        return BeforeBirth(col, dob, before)

    return _table("social_care", ev, "episode_id", {
        "episode_id": Keys("EP", np.arange(ev.n) + 1),
        "child_id": Keys(prefixes, regs.number[r], 7, kinds),
        "upn": Vocab(np.where(has_upn[r], r, -1), upn_known),
        "nhs_number": until_birth(Vocab(np.where(has_nhs[r], r, -1), nhs_str), Const("")),
        "first_name": until_birth(ident["first_name"], Const("Unborn")),
        "last_name": ident["last_name"],
        "dob": until_birth(ident["dob"], Dates(due[r])),
        "sex": until_birth(ident["sex"], Const("U")),
        "ethnicity": Vocab(eth[r], np.array(ETHNICITY_CODES, dtype=object)),
        "disability": Vocab(disability[r], np.array(["N", "Y", "U"], dtype=object)),
        "address_line": ident["address_line"], "postcode": ident["postcode"],
        "episode_type": Vocab(ev.fields["etype"].astype(np.int64), np.array(social_care.EPISODES, dtype=object)),
        "start_date": Dates(ev.day),
        "end_date": Dates(ev.fields["end"], open_at_extract=True),
        "referral_source": Vocab(ev.fields["source"].astype(np.int64), np.array(social_care.REFERRAL_SOURCES, dtype=object)),
    })  # fmt: skip


def _recorded_ethnicity(rng: np.random.Generator, true: np.ndarray) -> np.ndarray:
    """Recorded ethnicity: mostly true; some 'not obtained' (NOBT) or 'refused' (REFU)."""
    u = rng.random(len(true))
    out = true.astype(np.int64).copy()
    out[u < 0.03] = ETHNICITY_CODES.index("NOBT")
    out[(u >= 0.03) & (u < 0.045)] = ETHNICITY_CODES.index("REFU")
    return out


def education_table(
    rng: np.random.Generator, world: World, ev: Events, window: tuple[int, int]
) -> tuple[Table, dict[int, str]]:
    f = ev.fields
    last = np.where(f["end"] >= 0, f["end"], ev.day)
    ev = _window(ev, f["visible"], last, *window)
    f = ev.fields
    profile = PROFILES["education"]
    regs = register(rng, world, "education", ev.person, ev.day, profile)
    ident = identity_columns(rng, world, regs, ev.person, ev.day, profile)
    council = world.geo.district_council[
        world.geo.addr_district[np.maximum(world.address_on(regs.person, regs.first_day), 0)]
    ]
    body = (950 + council.astype(np.int64)) * 10**9 + regs.number
    letters = upn_check_letter(body)
    upn = np.array(
        [f"{c}{b:012d}" for c, b in zip(letters, body.tolist(), strict=True)], dtype=object
    )
    base = ~regs.duplicate
    upn_of = dict(zip(regs.person[base].tolist(), upn[base].tolist(), strict=True))
    eth = _recorded_ethnicity(rng, world.people.ethnicity[regs.person])
    r = regs.of_row
    return _table("education", ev, "record_id", {
        "record_id": Keys("ED", np.arange(ev.n) + 1, 9),
        "upn": Vocab(r, upn),
        "first_name": ident["first_name"], "last_name": ident["last_name"], "dob": ident["dob"],
        "sex": ident["sex"], "ethnicity": Vocab(eth[r], np.array(ETHNICITY_CODES, dtype=object)),
        "sen_status": Vocab(f["sen"].astype(np.int64), np.array(education.SEN, dtype=object)),
        "fsm": Vocab(f["fsm"].astype(np.int64), YN),
        "school_urn": Ints(f["school"]),
        "address_line": ident["address_line"], "postcode": ident["postcode"],
        "record_type": Vocab(f["rtype"].astype(np.int64), np.array(education.RECORD_TYPES, dtype=object)),
        "period_start": Dates(ev.day),
        "period_end": Dates(np.where(f["end"] >= 0, f["end"], NEVER), open_at_extract=True),
        "sessions_possible": Ints(f["possible"]),
        "sessions_missed_authorised": Ints(f["auth"]),
        "sessions_missed_unauthorised": Ints(f["unauth"]),
        "sessions_excluded": Ints(f["excluded"]),
    }), upn_of  # fmt: skip


def housing_table(
    rng: np.random.Generator, world: World, ev: Events, window: tuple[int, int]
) -> Table:
    ev = _window(ev, ev.day, ev.day, *window)
    f = ev.fields
    profile = PROFILES["housing"]
    regs = register(rng, world, "housing", ev.person, ev.day, profile)
    ident = identity_columns(rng, world, regs, ev.person, ev.day, profile)
    prefixes, kinds = _prefix(world, regs, "H")
    return _table("housing", ev, "event_id", {
        "event_id": Keys("HE", np.arange(ev.n) + 1),
        "tenancy_ref": Keys(("T", "HC", "TA"), f["ref"].astype(np.int64) + 1, 7, f["ref_kind"].astype(np.int64)),
        "person_ref": Keys(prefixes, regs.number[regs.of_row], 7, kinds),
        "first_name": ident["first_name"], "last_name": ident["last_name"], "dob": ident["dob"],
        "address_line": ident["address_line"], "postcode": ident["postcode"],
        "tenancy_role": Vocab(f["role"].astype(np.int64), np.array(housing.TENANCY_ROLES, dtype=object)),
        "event_type": Vocab(f["etype"].astype(np.int64), np.array(housing.EVENT_TYPES, dtype=object)),
        "event_date": Dates(ev.day),
        "arrears_gbp": Money(f["amount"]),
    })  # fmt: skip


def police_table(
    rng: np.random.Generator, world: World, ev: Events, window: tuple[int, int]
) -> Table:
    ev = _window(ev, ev.day, ev.day, *window)
    f = ev.fields
    profile = PROFILES["police"]
    regs = register(rng, world, "police", ev.person, ev.day, profile)
    ident = identity_columns(rng, world, regs, ev.person, ev.day, profile)
    group = f["group"].copy()
    solo = group < 0
    group[solo] = group.max(initial=0) + 1 + np.arange(int(solo.sum()))
    _, first_row, inc = np.unique(group, return_index=True, return_inverse=True)
    incident_no = np.argsort(np.argsort(first_row, kind="stable"), kind="stable")[inc] + 1
    extras = extra_columns(rng, ev.person, world.people.ethnicity, f["itype"], police.TYPES,
                           ident["first_name"], ident["last_name"])  # fmt: skip
    dash = f["dash"].astype(np.int64)
    return _table("police", ev, "involvement_id", {
        "involvement_id": Keys("INV", np.arange(ev.n) + 1),
        "incident_ref": Keys("INC", incident_no),
        "person_ref": Keys("P", regs.number[regs.of_row], 8),
        "first_name": ident["first_name"], "last_name": ident["last_name"], "dob": ident["dob"],
        "sex": ident["sex"], "nationality": extras["nationality"],
        "address_line": ident["address_line"], "postcode": ident["postcode"],
        "immigration_status": extras["immigration_status"],
        "role": Vocab(f["role"].astype(np.int64), np.array(police.ROLES, dtype=object)),
        "incident_type": Vocab(f["itype"].astype(np.int64), np.array(police.TYPES, dtype=object)),
        "incident_date": Dates(ev.day),
        "dash_risk": Vocab(dash, np.array(police.DASH, dtype=object)),
        "officer_notes": extras["officer_notes"],
    })  # fmt: skip


def benefits_table(
    rng: np.random.Generator, world: World, ev: Events, window: tuple[int, int]
) -> Table:
    ev = _window(ev, ev.day, ev.day, *window)
    f = ev.fields
    profile = PROFILES["revenues_benefits"]
    regs = register(rng, world, "revenues_benefits", ev.person, ev.day, profile)
    ident = identity_columns(rng, world, regs, ev.person, ev.day, profile)
    prefixes, kinds = _prefix(world, regs, "CR")
    return _table("revenues_benefits", ev, "event_id", {
        "event_id": Keys("RB", np.arange(ev.n) + 1),
        "claimant_ref": Keys(prefixes, regs.number[regs.of_row], 7, kinds),
        "first_name": ident["first_name"], "last_name": ident["last_name"], "dob": ident["dob"],
        "address_line": ident["address_line"], "postcode": ident["postcode"],
        "event_type": Vocab(f["etype"].astype(np.int64), np.array(benefits.EVENT_TYPES, dtype=object)),
        "event_date": Dates(ev.day),
        "amount_gbp": Money(f["amount"]),
    })  # fmt: skip
