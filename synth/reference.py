"""Reference files of a drop: areas (districts and deprivation), workers (who receives flags,
covering every district, with capacities) and objections (real people of the estate who objected
to or restricted the processing, as they wrote their details on the form).
"""

from __future__ import annotations

import numpy as np

from safeguard.synth.build import World
from safeguard.synth.columns import Dates, Ints, Keys, Table, Vocab
from safeguard.synth.names import NameBook
from safeguard.synth.noise import PROFILES
from safeguard.synth.registry import address_columns, identity_columns, register
from safeguard.synth.world import NEVER

#: Total practitioner capacity as a share of households: ~2% of families can be reviewed per run
#: (Hackney's system surfaced 10-20 families a month; one practitioner reviews ~10-30 new flags).
CAPACITY_SHARE = 0.02
OBJECTION_SHARE = 0.0005


def _always(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.full(n, -1, np.int32), np.full(n, -(2**31) + 2, np.int32), np.full(n, NEVER, np.int32)


def areas_table(world: World) -> Table:
    geo = world.geo
    n = geo.n_districts
    person, visible, last = _always(n)
    return Table("areas", person, visible, last, {
        "postcode_district": Vocab(np.arange(n), geo.district_code),
        "area_code": Vocab(np.arange(n), geo.district_area_code),
        "local_authority": Vocab(geo.district_council.astype(np.int64), np.array(geo.council_names, dtype=object)),
        "imd_decile": Ints(geo.district_imd.astype(np.int64)),
    }, "postcode_district")  # fmt: skip


def workers_table(rng: np.random.Generator, world: World) -> Table:
    """Teams of ~5 districts: a manager, social workers and early-help practitioners."""
    geo, h = world.geo, world.history
    fam_now = np.unique(h.family_of[-1][h.family_of[-1] >= 0])
    households = np.bincount(geo.addr_district[h.address[-1, fam_now]], minlength=geo.n_districts)
    ids: list[int] = []
    teams: list[str] = []
    roles: list[str] = []
    areas: list[str] = []
    caps: list[int] = []
    book = NameBook()
    for c, council in enumerate(geo.council_names):
        districts = np.flatnonzero(geo.district_council == c)
        for t, team in enumerate(np.array_split(districts, max(1, round(len(districts) / 5)))):
            label = f"{council} Early Help {('North', 'South', 'East', 'West', 'Central', 'Riverside')[t % 6]}"
            label += f" {t // 6 + 1}" if t >= 6 else ""
            codes = [str(geo.district_code[d]) for d in team]
            budget = CAPACITY_SHARE * households[team].sum()
            members: list[tuple[str, list[str], int]] = [("team_manager", codes, 5)]
            k = max(1, round(budget / 20))
            if k <= len(codes):
                patches = [list(p) for p in np.array_split(np.array(codes, dtype=object), k)]
            else:
                patches = [[codes[i % len(codes)]] for i in range(k)]
            for i, patch in enumerate(patches):
                role = "social_worker" if i % 3 == 2 else "early_help_practitioner"
                cap = int(rng.integers(8, 16) if role == "social_worker" else rng.integers(15, 31))
                members.append((role, patch, cap))
            for role, covered, cap in members:
                ids.append(len(ids) + 1)
                teams.append(label)
                roles.append(role)
                areas.append(";".join(covered))
                caps.append(cap)
    n = len(ids)
    sex = rng.integers(0, 2, n)
    tradition = rng.choice(
        9, size=n, p=[0.6, 0.05, 0.05, 0.1, 0.08, 0.05, 0.05, 0.01, 0.01]
    ).astype(np.int8)
    given_ids = book.draw_given(rng, tradition, sex, rng.integers(1965, 2000, n))
    surname_ids = book.draw_surname(rng, tradition)
    names = [
        f"{book.given[g]} {book.surnames[s]}" for g, s in zip(given_ids, surname_ids, strict=True)
    ]
    person, visible, last = _always(n)
    return Table("workers", person, visible, last, {
        "worker_id": Keys("W", np.array(ids), 4),
        "display_name": Vocab(np.arange(n), np.array(names, dtype=object)),
        "team": Vocab(np.arange(n), np.array(teams, dtype=object)),
        "role": Vocab(np.arange(n), np.array(roles, dtype=object)),
        "area_codes": Vocab(np.arange(n), np.array(areas, dtype=object)),
        "capacity": Ints(np.array(caps, dtype=np.int64)),
    }, "worker_id")  # fmt: skip


def objections_table(rng: np.random.Generator, world: World) -> Table:
    """A few real people of the estate (mostly adults) who objected in the last two years."""
    p, newest = world.people, world.timeline.newest_day
    n = max(5, round(p.n * OBJECTION_SHARE))
    alive = np.flatnonzero(p.dob < newest - 400)
    adult = (newest - p.dob[alive]) / 365.25 >= 18
    weights = np.where(adult, 4.0, 1.0)
    person = np.sort(
        rng.choice(alive, size=min(n, len(alive)), replace=False, p=weights / weights.sum())
    )
    received = (newest - rng.integers(1, 730, len(person))).astype(np.int32)
    received = np.maximum(received, p.dob[person] + 365)
    order = np.lexsort((person, received))
    person, received = person[order], received[order]
    profile = PROFILES["objections"]
    regs = register(rng, world, "objections", person, received, profile)
    ident = identity_columns(rng, world, regs, person, received, profile)
    pc = address_columns(rng, world, person, received, profile)["postcode"]
    return Table("objections", person.astype(np.int32), received, np.full(len(person), NEVER, np.int32), {
        "objection_id": Keys("OBJ", np.arange(len(person)) + 1, 5),
        "first_name": ident["first_name"], "last_name": ident["last_name"],
        "dob": Dates(p.dob[person]), "postcode": pc, "received_date": Dates(received),
    }, "objection_id")  # fmt: skip
