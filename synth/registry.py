"""How an agency knows a person: its own registrations (ids), each with the identity as entered.

One person can have several registrations in one agency (a duplicate entered when a search
failed, or a council system after a move to another council). Noise is drawn once per
registration (a nickname stays a nickname on every record) and per row for addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth import noise
from safeguard.synth.build import World
from safeguard.synth.columns import Col, Dates, Override, Vocab
from safeguard.synth.noise import NoiseProfile
from safeguard.synth.world import NEVER

SEX = ("M", "F", "U")
_COUNCIL_SYSTEMS = ("social_care", "housing", "revenues_benefits")


@dataclass
class Registrations:
    """Registrations of one agency and the registration of each row."""

    of_row: np.ndarray  # registration index per row
    person: np.ndarray  # true person per registration
    council: np.ndarray  # council per registration
    number: np.ndarray  # sequence number per registration (for the agency id)
    first_day: np.ndarray  # first row day per registration
    duplicate: np.ndarray  # bool: a second registration of the same person


def register(rng: np.random.Generator, world: World, source: str, person: np.ndarray, day: np.ndarray,
             profile: NoiseProfile) -> Registrations:  # fmt: skip
    """Assign each row to a registration of its person in the agency (council systems split by council)."""
    geo = world.geo
    if source in _COUNCIL_SYSTEMS:
        addr = world.address_on(person, day)
        council = geo.district_council[geo.addr_district[np.maximum(addr, 0)]].astype(np.int64)
    else:
        council = np.zeros(len(person), dtype=np.int64)
    key = person.astype(np.int64) * 16 + council
    uniq, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    n_base = len(uniq)
    # A duplicate is entered at a later contact (a failed search) and used from then on.
    dup = (count >= 2) & (rng.random(n_base) < profile.duplicate)
    dup_id = np.full(n_base, -1, dtype=np.int64)
    dup_id[dup] = n_base + np.arange(int(dup.sum()))
    order = np.lexsort((day, inv))
    rank = np.empty(len(person), dtype=np.int64)
    rank[order] = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
    split = 1 + (rng.random(n_base) * (count - 1)).astype(np.int64)
    of_row = np.where(dup[inv] & (rank >= split[inv]), dup_id[inv], inv)
    reg_person = np.concatenate([uniq // 16, uniq[dup] // 16]).astype(np.int32)
    reg_council = np.concatenate([uniq % 16, uniq[dup] % 16]).astype(np.int16)
    first_day = np.full(len(reg_person), NEVER, dtype=np.int64)
    np.minimum.at(first_day, of_row, day)
    # number registrations in order of first contact (stable, deterministic)
    reg_order = np.lexsort((reg_person, first_day))
    number = np.empty(len(reg_order), dtype=np.int64)
    number[reg_order] = np.arange(len(reg_order)) + 1
    return Registrations(of_row, reg_person, reg_council, number, first_day,
                         np.concatenate([np.zeros(n_base, bool), np.ones(int(dup.sum()), bool)]))  # fmt: skip


def _noisy_names(rng: np.random.Generator, base: np.ndarray, table: dict[str, tuple[str, ...]], p_variant: float,
                 p_typo: float, upper: np.ndarray, fold: np.ndarray) -> np.ndarray:  # fmt: skip
    """Names as entered: a known variant (nickname, transliteration) or a typo, then the system's
    own habits (capitals, diacritics dropped). ``p_variant`` applies to names that have a variant."""
    out = base.copy()
    u = rng.random(len(out))
    has_variant = np.array([name in table for name in base.tolist()], dtype=bool)
    use_variant = has_variant & (u < p_variant)
    use_typo = ~use_variant & (rng.random(len(out)) < p_typo)
    for i in np.flatnonzero(use_variant | use_typo | upper | fold).tolist():
        s = out[i]
        if use_variant[i]:
            s = noise.variant(s, table, rng)
        elif use_typo[i]:
            s = noise.typo(s, rng)
        if fold[i]:
            s = noise.ascii_fold(s)
        if upper[i]:
            s = s.upper()
        out[i] = s
    return out


def identity_columns(rng: np.random.Generator, world: World, regs: Registrations, person: np.ndarray,
                     day: np.ndarray, profile: NoiseProfile) -> dict[str, Col]:  # fmt: skip
    """first_name, last_name, dob, sex, address_line and postcode columns for an agency's rows."""
    p, names = world.people, world.names
    n_reg = len(regs.person)
    upper = rng.random(n_reg) < profile.upper_case
    fold = rng.random(n_reg) < profile.ascii_fold
    given = _noisy_names(rng, names.given[p.given[regs.person]], names.given_variants,
                         profile.nickname, profile.given_typo, upper, fold)  # fmt: skip
    reg_surname = p.surname_on(regs.person, regs.first_day)
    surname = _noisy_names(rng, names.surnames[reg_surname], names.surname_variants,
                           profile.surname_typo, profile.surname_typo / 2, upper, fold)  # fmt: skip
    new = names.surnames[np.maximum(p.new_surname[regs.person], 0)]
    new = np.array([s.upper() if u else s for s, u in zip(new, upper, strict=True)], dtype=object)
    # rows after a surname change show the new surname unless the registration was never updated
    stale = rng.random(n_reg) < profile.surname_stale
    r = regs.of_row
    changed_after_reg = (p.surname_change_day[person] <= day) & (
        p.surname_change_day[person] > regs.first_day[r]
    )
    use_new = changed_after_reg & ~stale[r]
    last = Vocab(np.where(use_new, r + n_reg, r), np.concatenate([surname, new]))
    dob = _noisy_dob(rng, p.dob[regs.person], profile)
    sex = np.where(rng.random(n_reg) < profile.sex_unknown, 2, p.sex[regs.person]).astype(np.int8)
    return {
        "first_name": Vocab(r, given),
        "last_name": last,
        "dob": Dates(dob[r]),
        "sex": Vocab(sex[r], np.array(SEX, dtype=object)),
        **address_columns(rng, world, person, day, profile),
    }


def _noisy_dob(rng: np.random.Generator, dob: np.ndarray, profile: NoiseProfile) -> np.ndarray:
    """Day/month swaps (only where the result is a real date), digit slips, 1 January defaults."""
    dates = dob.astype("datetime64[D]")
    y = dates.astype("datetime64[Y]").astype(int) + 1970
    mth = dates.astype("datetime64[M]").astype(int) % 12 + 1
    d = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    u = rng.random(len(dob))
    out = dob.astype(np.int64).copy()
    swap = (u < profile.dob_swap) & (d <= 12) & (d != mth)
    out[swap] = _days(y[swap], d[swap], mth[swap])
    slip = (u >= profile.dob_swap) & (u < profile.dob_swap + profile.dob_typo)
    shift = np.where(rng.random(len(dob)) < 0.5, rng.choice([-10, -1, 1, 10], len(dob)), 0)
    yshift = np.where(shift == 0, rng.choice([-10, -1, 1], len(dob)), 0)
    new_day = np.clip(d + shift, 1, 28)
    out[slip] = _days(y[slip] + yshift[slip], mth[slip], new_day[slip])
    lo = profile.dob_swap + profile.dob_typo
    default = (u >= lo) & (u < lo + profile.dob_default)
    out[default] = _days(y[default], np.ones(default.sum(), int), np.ones(default.sum(), int))
    missing = rng.random(len(dob)) < profile.dob_missing
    out[missing] = NEVER
    return out.astype(np.int64)


def _days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    ym = (np.asarray(year) - 1970) * 12 + np.asarray(month) - 1
    return ym.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + np.asarray(day) - 1


def address_columns(rng: np.random.Generator, world: World, person: np.ndarray, day: np.ndarray,
                    profile: NoiseProfile) -> dict[str, Col]:  # fmt: skip
    """Address line and postcode at the row date, formatted the agency's way with row-level noise."""
    geo = world.geo
    n = len(person)
    addr = world.address_on(person, day)
    style = ((rng.random(n) < profile.address_abbrev) * 1 + (rng.random(n) < profile.address_flat) * 2
             + rng.integers(0, 4, n) * 4)  # fmt: skip
    code = addr.astype(np.int64) * 16 + style
    uniq, inv = np.unique(code, return_inverse=True)
    lines = []
    for c in uniq.tolist():
        line = geo.addr_line[c // 16]
        s = c % 16
        if s & 2:
            line = noise.flat_form(line, s // 4)
        if s & 1:
            line = noise.abbreviate(line)
        lines.append(line)
    address = Vocab(inv.astype(np.int64), np.array(lines, dtype=object))
    missing_a = np.flatnonzero(rng.random(n) < profile.address_missing)
    typo_rows = np.flatnonzero(rng.random(n) < profile.address_typo)
    typo_vals = np.array(
        [noise.typo(str(address.vocab[inv[i]]), rng) for i in typo_rows], dtype=object
    )
    address_col = Override(address, np.concatenate([typo_rows, missing_a]),
                           np.concatenate([typo_vals, np.full(len(missing_a), "", dtype=object)]))  # fmt: skip
    pc_id = geo.addr_postcode[addr]
    fmt = np.where(rng.random(n) < profile.postcode_format, rng.integers(0, 4, n) + 1, 0)
    pcode = pc_id.astype(np.int64) * 8 + fmt
    puniq, pinv = np.unique(pcode, return_inverse=True)
    pstr = np.array([geo.postcodes[c // 8] if c % 8 == 0 else noise.postcode_format(geo.postcodes[c // 8], c % 8 - 1)
                     for c in puniq.tolist()], dtype=object)  # fmt: skip
    postcode = Vocab(pinv.astype(np.int64), pstr)
    u = rng.random(n)
    bad = np.flatnonzero(u < profile.postcode_typo)
    garbled = np.flatnonzero(
        (u >= profile.postcode_typo) & (u < profile.postcode_typo + profile.postcode_garbled)
    )
    missing = np.flatnonzero(rng.random(n) < profile.postcode_missing)
    vals = [noise.postcode_typo(geo.postcodes[pc_id[i]], rng) for i in bad] + [
        noise.postcode_garble(geo.postcodes[pc_id[i]], rng) for i in garbled
    ]
    rows = np.concatenate([bad, garbled, missing])
    vals_arr = np.concatenate(
        [np.array(vals, dtype=object), np.full(len(missing), "", dtype=object)]
    )
    return {"address_line": address_col, "postcode": Override(postcode, rows, vals_arr)}
