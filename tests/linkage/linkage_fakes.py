"""A small, noisy, seeded generator of person records with known truth (tests only).

It plants the things linkage must get right: households sharing surname and address, twins,
a very common name, nicknames and transliterations, typos, swapped day/month, missing dates
of birth, moves, non-UK postcodes, UPNs and NHS numbers (some with a wrong check digit).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from safeguard.linkage import LinkageConfig, keyed

#: The tests' key function (a fixed, made-up secret: keys are stable across test runs).
KEYS = keyed(b"linkage-tests-secret-0123456789ab")

#: Fewer random pairs for u than the default: the test estate is small and tests must be fast.
FAST = LinkageConfig(u_max_pairs=2e5)

FIRST_M = [
    "james", "oliver", "harry", "jack", "george", "noah", "charlie", "jacob", "alfie", "freddie",
    "oscar", "leo", "logan", "archie", "theo", "thomas", "joshua", "william", "daniel", "samuel",
    "mohammed", "ahmed", "ali", "omar", "yusuf", "ibrahim", "hassan", "arjun", "rohan", "kwame",
]  # fmt: skip
FIRST_F = [
    "olivia", "amelia", "isla", "ava", "emily", "sophia", "grace", "mia", "poppy", "ella",
    "lily", "evie", "isabella", "sophie", "ivy", "freya", "harper", "willow", "elizabeth", "jessica",
    "aisha", "fatima", "maryam", "zainab", "amina", "priya", "sana", "chloe", "megan", "hannah",
]  # fmt: skip
LAST = [
    "smith", "jones", "williams", "taylor", "brown", "davies", "evans", "wilson", "thomas", "johnson",
    "roberts", "robinson", "thompson", "wright", "walker", "white", "edwards", "hughes", "green", "hall",
    "khan", "ahmed", "hussain", "begum", "ali", "patel", "singh", "okafor", "mensah", "kowalski",
    "nowak", "oconnor", "murphy", "campbell", "stewart", "clarke", "lewis", "harris", "martin", "jackson",
]  # fmt: skip
NICK = {"william": "bill", "elizabeth": "liz", "mohammed": "muhammad", "thomas": "tom",
        "daniel": "danny", "samuel": "sam", "jessica": "jess", "joshua": "josh", "james": "jim"}  # fmt: skip
STREETS = ["high street", "church road", "station road", "park avenue", "mill lane", "victoria road",
           "green lane", "manor close", "the crescent", "kings road"]  # fmt: skip
SOURCES = ["social_care", "education", "housing", "police", "revenues_benefits"]


def nhs_number(rng: np.random.Generator) -> str:
    """A random NHS number with a valid modulus-11 check digit."""
    while True:
        nine = rng.integers(0, 10, 9)
        check = 11 - int((nine * np.arange(10, 1, -1)).sum()) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, nine)) + str(check)


def upn(rng: np.random.Generator) -> str:
    """A random UPN with a valid check letter."""
    body = "".join(map(str, rng.integers(0, 10, 12)))
    total = sum(int(d) * w for d, w in zip(body, range(2, 14), strict=True))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + body


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:  # substitution
        return word[:i] + "aeiou"[int(rng.integers(0, 5))] + word[i + 1 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :] if i + 2 <= len(word) else word


def _postcode(rng: np.random.Generator) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return f"NB{rng.integers(1, 9)} {rng.integers(1, 9)}{letters[rng.integers(0, 20)]}{letters[rng.integers(0, 20)]}"


def make_people(n_households: int, seed: int) -> pd.DataFrame:
    """Households of adults and children: one row per true person."""
    rng = np.random.default_rng(seed)
    rows = []
    today = dt.date(2026, 11, 1)
    zipf_last = 1 / np.arange(1, len(LAST) + 1) ** 0.8
    zipf_last /= zipf_last.sum()
    for h in range(n_households):
        surname = LAST[rng.choice(len(LAST), p=zipf_last)]
        address = [
            f"{rng.integers(1, 200)} {STREETS[rng.integers(0, len(STREETS))]}",
            _postcode(rng),
        ]
        previous = [
            f"{rng.integers(1, 200)} {STREETS[rng.integers(0, len(STREETS))]}",
            _postcode(rng),
        ]
        members = [("adult", "F")] + ([("adult", "M")] if rng.random() < 0.6 else [])
        n_children = int(rng.integers(0, 4))
        members += [("child", "MF"[rng.integers(0, 2)]) for _ in range(n_children)]
        twin_dob = None
        if n_children and rng.random() < 0.1:  # twins: same dob, different first names
            members.append(("child", "MF"[rng.integers(0, 2)]))
            twin_dob = "twin"
        used: set[str] = set()
        for k, (role, sex) in enumerate(members):
            pool = FIRST_M if sex == "M" else FIRST_F
            first = pool[rng.integers(0, len(pool))]
            while first in used:
                first = pool[rng.integers(0, len(pool))]
            used.add(first)
            age = int(rng.integers(20, 55)) if role == "adult" else int(rng.integers(0, 17))
            dob = today - dt.timedelta(days=age * 365 + int(rng.integers(0, 365)))
            if twin_dob == "twin" and k == len(members) - 1:
                dob = rows[-1]["dob"]  # the twin of the previous child
            rows.append(
                {
                    "true_person_id": f"T{h:05d}_{k}",
                    "true_family_id": f"F{h:05d}",
                    "role": role,
                    "sex": sex,
                    "first_name": first,
                    "last_name": surname,
                    "dob": dob,
                    "address_line": address[0],
                    "postcode": address[1],
                    "previous_address": previous[0],
                    "previous_postcode": previous[1],
                    "upn": upn(rng) if role == "child" else None,
                    "nhs_number": nhs_number(rng),
                }
            )
    return pd.DataFrame(rows)


def make_records(people: pd.DataFrame, seed: int, noise: float = 1.0) -> pd.DataFrame:
    """Noisy agency records for ``people`` (1-5 each) with ``true_person_id`` kept for scoring."""
    rng = np.random.default_rng(seed)
    rows = []
    counter = 0
    for person in people.itertuples(index=False):
        for _ in range(int(rng.integers(1, 6))):
            counter += 1
            source = SOURCES[rng.integers(0, len(SOURCES))]
            first, last = person.first_name, person.last_name
            dob: object = person.dob
            u = rng.random(8)
            if u[0] < 0.08 * noise:
                first = _typo(rng, first)
            elif u[0] < 0.14 * noise and first in NICK:
                first = NICK[first]
            if u[1] < 0.05 * noise:
                last = _typo(rng, last)
            if u[2] < 0.03 * noise and dob.day <= 12 and dob.day != dob.month:
                dob = dt.date(dob.year, dob.day, dob.month)
            elif u[2] < 0.08 * noise:
                dob = None
            address, postcode = person.address_line, person.postcode
            if u[3] < 0.2 * noise:
                address, postcode = person.previous_address, person.previous_postcode
            if u[4] < 0.05 * noise:
                postcode = None
            fmt = rng.integers(0, 3)
            dob_text = (
                None if dob is None else [dob.isoformat(), dob.strftime("%d/%m/%Y"), dob][fmt]
            )
            rows.append(
                {
                    "source": source,
                    "record_key": f"R{counter:07d}",
                    "first_name": first.title() if u[5] < 0.5 else first.upper(),
                    "last_name": last.title(),
                    "dob": dob_text,
                    "address_line": address.title(),
                    "postcode": postcode,
                    "sex": person.sex if u[6] < 0.7 else None,
                    "upn": person.upn if source in ("education", "social_care") else None,
                    "nhs_number": person.nhs_number if u[7] < 0.2 else None,
                    "true_person_id": person.true_person_id,
                }
            )
    return pd.DataFrame(rows)


def _rec(
    key: str,
    person: str,
    first: str,
    last: str,
    dob: object,
    address: str,
    postcode: str | None,
    source: str = "police",
    **extra: object,
) -> dict[str, object]:
    return {"source": source, "record_key": key, "first_name": first, "last_name": last, "dob": dob,
            "address_line": address, "postcode": postcode, "sex": extra.get("sex"),
            "upn": extra.get("upn"), "nhs_number": extra.get("nhs_number"), "true_person_id": person}  # fmt: skip


def planted_records() -> pd.DataFrame:
    """Hand-written cases, each with a distinctive name so that only the case itself can match.

    ``true_person_id`` says which records are the same person; record keys start with the
    case name so a test can pick a case out of the linked output.
    """
    rows = [
        # nickname: William / Bill, same dob and address
        _rec("nick-1", "P-nick", "William", "Ashdown", "2011-05-14", "4 Larch Row", "NB3 4XY", "education"),
        _rec("nick-2", "P-nick", "Bill", "Ashdown", "14/05/2011", "4 Larch Row", "NB3 4XY", "police"),
        # transliteration: Mohammed / Muhammad with a swapped day/month
        _rec("swap-1", "P-swap", "Mohammed", "Quraishi", "2009-03-07", "17 Fenwick Way", "NB5 1QT", "social_care"),
        _rec("swap-2", "P-swap", "Muhammad", "Quraishi", "2009-07-03", "17 Fenwick Way", "NB5 1QT", "housing"),
        # moved: same name and dob at two unrelated addresses
        _rec("move-1", "P-move", "Tamsin", "Oakenfold", "1988-10-30", "9 Ridley Court", "NB2 8LL", "housing"),
        _rec("move-2", "P-move", "Tamsin", "Oakenfold", "30.10.1988", "221 Orchard Hill", "NB7 3PD", "revenues_benefits"),
        # twins: same surname, dob, address; different given names -> two people
        _rec("twin-1", "P-twin-a", "Florian", "Brackenbury", "2016-02-09", "3 Sable Street", "NB4 2RR", "education", sex="M"),
        _rec("twin-2", "P-twin-a", "Florian", "Brackenbury", "2016-02-09", "3 Sable Street", "NB4 2RR", "social_care", sex="M"),
        _rec("twin-3", "P-twin-b", "Lucian", "Brackenbury", "2016-02-09", "3 Sable Street", "NB4 2RR", "education", sex="M"),
        _rec("twin-4", "P-twin-b", "Lucian", "Brackenbury", "2016-02-09", "3 Sable Street", "NB4 2RR", "police", sex="M"),
        # missing dob: rare name at the same address links
        _rec("nodob-1", "P-nodob", "Xanthe", "Quennell", "1979-12-01", "88 Pellow Road", "NB6 6JJ", "housing"),
        _rec("nodob-2", "P-nodob", "Xanthe", "Quennell", None, "88 Pellow Road", "NB6 6JJ", "police"),
        # non-UK postcodes
        _rec("abroad-1", "P-abroad", "Ottoline", "Marchetti", "1992-06-21", "12 Rue Saint-Denis", "75001", "police"),
        _rec("abroad-2", "P-abroad", "Ottoline", "Marchetti", "21/06/1992", "12 rue St Denis", "F-75001", "housing"),
        _rec("abroad-3", "P-abroad-b", "Severin", "Marchetti", "1990-01-15", "Hauptstrasse 5", "10115", "police"),
        # deterministic UPN: a name change after adoption, same UPN
        _rec("upn-1", "P-upn", "Kerensa", "Pendleford", "2013-08-19", "2 Vane Close", "NB1 9AA", "education", upn="N801200001234"),
        _rec("upn-2", "P-upn", "Kerensa", "Trevithick", "2013-08-19", "60 Gilly Lane", "NB8 1ZZ", "social_care", upn="N801200001234"),
        # deterministic NHS number (valid check digit) despite a different surname and address
        _rec("nhs-1", "P-nhs", "Morwenna", "Polglaze", "1995-04-02", "5 Tor View", "NB2 2BB", "social_care", nhs_number="943 476 5919"),
        _rec("nhs-2", "P-nhs", "Morwenna", "Carbis", "1995-04-02", "14 Quay Street", "NB9 9QQ", "police", nhs_number="9434765919"),
        # an invalid NHS number shared by two different people must not link them
        _rec("badnhs-1", "P-badnhs-a", "Jago", "Penhallow", "1970-01-20", "1 Fore Street", "NB3 3CC", "police", nhs_number="9434765918"),
        _rec("badnhs-2", "P-badnhs-b", "Demelza", "Rosewarne", "1984-09-11", "77 Mount Pleasant", "NB5 5DD", "housing", nhs_number="9434765918"),
    ]  # fmt: skip
    # common-name collision: two different men called Mohammed Khan, five records each
    for i in range(5):
        rows.append(_rec(f"khanA-{i}", "P-khanA", "Mohammed", "Khan", "1990-02-11", "41 Ivy Grove", "NB1 5EE",
                         SOURCES[i]))  # fmt: skip
        rows.append(_rec(f"khanB-{i}", "P-khanB", "Mohammed", "Khan", "1986-09-23", "7 Crane Walk", "NB6 2FF",
                         SOURCES[i]))  # fmt: skip
    # chaining: father and son share a rare name, live apart, five records each. One record
    # of the father carries his NHS number but no dob and the son's address: it is certainly
    # the father (NHS number) and looks like the son to the model. Single linkage would merge
    # father and son through it.
    for i in range(5):
        rows.append(_rec(f"chainF-{i}", "P-chainF", "Peregrine", "Fotheringay", "1968-04-27", "12 Windle Terrace",
                         "NB2 4GG", SOURCES[i], nhs_number="4010232137" if i == 0 else None))  # fmt: skip
        rows.append(_rec(f"chainS-{i}", "P-chainS", "Peregrine", "Fotheringay", "1999-11-05", "3 Haverly Mews",
                         "NB7 7HH", SOURCES[i]))  # fmt: skip
    rows.append(_rec("chain-bridge", "P-chainF", "Peregrine", "Fotheringay", None, "3 Haverly Mews", "NB7 7HH",
                     "police", nhs_number="4010232137"))  # fmt: skip
    return pd.DataFrame(rows)
