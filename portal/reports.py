"""Reviewer documents (review pack, model card, fairness report) and the identity guard.

The pipeline writes these reports without personal data. The portal does not take that on
trust: every text it sends a reviewer is scanned for identities held in the vault (full names,
address lines, postcodes, agency identifiers) and withheld if one is found.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from safeguard.contracts.layout import ARTEFACTS_DIR, DATA_DOCS_DIR, REPORTS_DIR
from safeguard.portal.db import ManagedDatabase
from safeguard.portal.identity import SOURCES

REVIEW_ROOTS = (REPORTS_DIR, ARTEFACTS_DIR, DATA_DOCS_DIR)
#: GX Data Docs (made readable offline by ``safeguard.expectations.data_docs.make_offline``): only the
#: site's index is listed; its pages are reached through it.
DATA_DOCS_INDEX = f"{DATA_DOCS_DIR}/index.html"
# Case packs carry the allocated worker's view; models are binary. Neither is for reviewers.
EXCLUDED_DIRS = frozenset({"case_packs", "models"})
DOCUMENT_SUFFIXES = frozenset({".html", ".htm", ".md"})
ASSET_SUFFIXES = frozenset({".png", ".svg", ".css", ".otf"})
TEXT_SUFFIXES = frozenset({".html", ".htm", ".md", ".svg", ".css"})
MAX_NGRAM = 8
MIN_PHRASE_CHARS = 4
_TOKEN = re.compile(r"[a-z0-9]+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class ReviewDocument:
    """A reviewer-visible report file, addressed relative to the data directory."""

    rel_path: str
    title: str
    kind: str  # review_pack | model_card | fairness | monitoring | data_docs | other


def _kind(rel_path: str) -> str:
    name = rel_path.lower()
    if "review_pack" in name:
        return "review_pack"
    if "model_card" in name:
        return "model_card"
    if "fairness" in name:
        return "fairness"
    if Path(name).stem == "monitoring":
        return "monitoring"
    if name == DATA_DOCS_INDEX:
        return "data_docs"
    return "other"


def _title(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def resolve_review_file(data_dir: Path, rel_path: str) -> Path | None:
    """The file a reviewer asked for, or None if it is not a servable report file.

    Refuses anything outside ``reports/`` and ``artefacts/`` (after resolving ``..`` and
    symlinks), inside an excluded folder, or of a type not on the allow-list.
    """
    parts = Path(rel_path).parts
    if not parts or parts[0] not in REVIEW_ROOTS or EXCLUDED_DIRS & set(parts):
        return None
    root = (data_dir / parts[0]).resolve()
    candidate = (data_dir / rel_path).resolve()
    if not candidate.is_relative_to(root) or EXCLUDED_DIRS & set(candidate.parts):
        return None
    if candidate.suffix.lower() not in DOCUMENT_SUFFIXES | ASSET_SUFFIXES:
        return None
    return candidate if candidate.is_file() else None


def list_review_documents(data_dir: Path) -> list[ReviewDocument]:
    """Every report document a reviewer may open, review pack first."""
    order = {"review_pack": 0, "model_card": 1, "fairness": 2, "monitoring": 3, "data_docs": 4,
             "other": 5}  # fmt: skip
    found = []
    for root in REVIEW_ROOTS:
        base = data_dir / root
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(data_dir).as_posix()
            if root == "data_docs" and rel != DATA_DOCS_INDEX:
                continue
            if path.suffix.lower() in DOCUMENT_SUFFIXES and resolve_review_file(data_dir, rel):
                title = "Data quality checks (GX Data Docs)" if rel == DATA_DOCS_INDEX else None
                found.append(ReviewDocument(rel, title or _title(path), _kind(rel)))
    # Prefer HTML over a Markdown twin of the same report.
    html_stems = {Path(d.rel_path).with_suffix("") for d in found if not d.rel_path.endswith(".md")}
    found = [
        d
        for d in found
        if not (d.rel_path.endswith(".md") and Path(d.rel_path).with_suffix("") in html_stems)
    ]
    return sorted(found, key=lambda d: (order[d.kind], d.rel_path))


def _visible(text: str) -> str:
    return html.unescape(_TAG.sub(" ", text))


def _phrases(text: str) -> list[str]:
    """Word n-grams (1..MAX_NGRAM) of the visible text, normalised like the vault values.

    Runs of digit groups are also joined (``943 476 5919`` -> ``9434765919``): an NHS number or
    a phone-style id written with spaces or hyphens is still the same identifier.
    """
    tokens = _TOKEN.findall(_visible(text).lower())
    grams: list[str] = []
    for n in range(1, MAX_NGRAM + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    for i, token in enumerate(tokens):
        if not token.isdigit():
            continue
        joined = token
        for follower in tokens[i + 1 : i + 5]:
            if not follower.isdigit():
                break
            joined += follower
            grams.append(joined)
    return grams


# Namespaces for the guard's hashed forms that are not plain phrases of the page.
_INITIAL, _DOB, _NAME_DOB = "\x01i ", "\x01d ", "\x01n "
_INITIAL_FIRST = re.compile(r"(?<![A-Za-z])([A-Za-z])\.\s*([A-Za-z][A-Za-z'\u2019-]+)")
_LAST_COMMA_INITIAL = re.compile(r"([A-Za-z][A-Za-z'\u2019-]+),\s*([A-Za-z])\.?(?![A-Za-z])")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}  # fmt: skip
_DATES = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), (1, 2, 3)),
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b"), (3, 2, 1)),
    (re.compile(r"\b(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})\b"), (3, 2, 1)),
)
_BIRTH_WORDS = re.compile(r"\b(born|birth|dob|d\.o\.b)\b", re.IGNORECASE)
DATE_WINDOW_CHARS = 60


def _normal(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _dated_forms(visible: str) -> list[str]:
    """Dates of the page as ``YYYY MM DD``, paired with the words around them.

    A date next to a name of someone born that day, or after "born"/"DOB", is a date of birth.
    """
    forms: list[str] = []
    for pattern, (y, m, d) in _DATES:
        for match in pattern.finditer(visible):
            month = match.group(m)
            month_number = _MONTHS.get(month[:3].lower()) if month.isalpha() else int(month)
            if not month_number:
                continue
            iso = f"{int(match.group(y)):04d} {month_number:02d} {int(match.group(d)):02d}"
            before = visible[max(0, match.start() - DATE_WINDOW_CHARS) : match.start()]
            after = visible[match.end() : match.end() + DATE_WINDOW_CHARS]
            if _BIRTH_WORDS.search(before[-25:]):
                forms.append(_DOB + iso)
            for word in _TOKEN.findall(f"{before} {after}".lower()):
                forms.append(f"{_NAME_DOB}{word} {iso}")
    return forms


def _guard_forms(text: str) -> list[str]:
    """Everything of a page the guard looks up: phrases, initials with surnames, dated names."""
    visible = _visible(text)
    forms = _phrases(text)
    forms += [_INITIAL + _normal(f"{a} {b}") for a, b in _INITIAL_FIRST.findall(visible)]
    forms += [_INITIAL + _normal(f"{b} {a}") for a, b in _LAST_COMMA_INITIAL.findall(visible)]
    return forms + _dated_forms(visible)


_IDENTITY_COLUMNS = ("address_line", "postcode", "agency_id", "upn", "nhs_number", "record_key")
_NORMALISE = "trim(regexp_replace(lower(CAST({} AS VARCHAR)), '[^a-z0-9]+', ' ', 'g'))"
# A value is worth blocking on only if specific enough not to be an ordinary word or count:
# several words ("ada testperson", "12 acacia road"), letters mixed with digits ("nb12ab",
# "a123456789012"), or a long number (an NHS number). Short numeric keys would match row counts.
_SPECIFIC_ENOUGH = (
    f"length(v) >= {MIN_PHRASE_CHARS} AND ("
    "v LIKE '% %' "
    "OR (regexp_matches(v, '[a-z]') AND regexp_matches(v, '[0-9]') AND length(v) >= 5) "
    "OR regexp_full_match(v, '[0-9]{9,}'))"
)


def _special_forms(table: str, cols: set[str]) -> list[str]:
    """SQL for the namespaced forms: "F. Last", a date of birth, a name with its date of birth."""
    out = []
    iso = "strftime(CAST(dob AS DATE), '%Y %m %d')"
    if {"first_name", "last_name"} <= cols:
        initial = "concat_ws(' ', left(CAST(first_name AS VARCHAR), 1), last_name)"
        out.append(f"SELECT '{_INITIAL}' || {_NORMALISE.format(initial)} AS v FROM {table}")
    if "dob" in cols:
        out.append(f"SELECT '{_DOB}' || {iso} AS v FROM {table}")
        for name in ("first_name", "last_name"):
            if name in cols:
                out.append(
                    f"SELECT '{_NAME_DOB}' || {_NORMALISE.format(name)} || ' ' || {iso} AS v "
                    f"FROM {table}"
                )
    return out


def _identity_hash_sql(cur: duckdb.DuckDBPyConnection) -> str | None:
    """SQL giving the sorted distinct hashes of every normalised identity value in the vault."""
    by_table: dict[str, set[str]] = {}
    for table, column in cur.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE table_name LIKE 'identity%'"
    ).fetchall():
        by_table.setdefault(table, set()).add(column)
    if "identity_vault" in by_table:
        # identity_vault is the union of the identity_<source> tables: reading both doubles the work.
        by_table = {t: c for t, c in by_table.items() if t.removeprefix("identity_") not in SOURCES}
    selects = []
    for table, cols in sorted(by_table.items()):
        values = sorted(cols & set(_IDENTITY_COLUMNS))
        if {"first_name", "last_name"} <= cols:
            values.append("concat_ws(' ', first_name, last_name)")
            values.append("concat_ws(' ', last_name, first_name)")  # "TESTPERSON, Ada"
        if "postcode" in cols:
            values.append("replace(CAST(postcode AS VARCHAR), ' ', '')")
        selects += [f"SELECT {_NORMALISE.format(v)} AS v FROM {table}" for v in values]
        selects += [
            f"SELECT v FROM ({form}) WHERE v IS NOT NULL" for form in _special_forms(table, cols)
        ]
    if not selects:
        return None
    return (
        f"SELECT DISTINCT hash(v) AS h FROM ({' UNION ALL '.join(selects)}) "
        f"WHERE {_SPECIFIC_ENOUGH} ORDER BY h"
    )


class IdentityGuard:
    """Detects vault identities in text sent to reviewers.

    Vault values are normalised (lower case, runs of other characters to one space), hashed in
    DuckDB and kept as a sorted array, so a vault of a few million values costs tens of MB and
    a page is checked by hashing its word n-grams. Full names are matched as "first last" and
    "last first" ("TESTPERSON, Ada"), and as "F. Last" / "Last, F." when the initial is written
    as one; digit groups are joined (a spaced NHS number); a date of birth is matched after
    "born"/"DOB" or next to the first or last name of someone born that day. A first or last
    name alone, or a date alone, is too common to block on.
    """

    def __init__(self, vault: ManagedDatabase) -> None:
        self._vault = vault
        self._lock = threading.Lock()
        self._hasher = duckdb.connect()
        self._loaded = False
        self._stamp: tuple[int, ...] | None = None
        self._hashes = np.empty(0, dtype=np.uint64)

    def warm(self) -> None:
        """Load the vault's hashes now (seconds for a million records), not at the first page."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        stamp = self._vault.stamp() if self._vault.exists() else None
        if self._loaded and stamp == self._stamp:
            return
        hashes = np.empty(0, dtype=np.uint64)
        if stamp is not None:
            with self._vault.cursor() as cur:
                sql = _identity_hash_sql(cur)
                if sql is not None:
                    hashes = cur.execute(sql).fetchnumpy()["h"].astype(np.uint64)
        self._hashes, self._stamp, self._loaded = hashes, stamp, True

    def contains_identity(self, text: str) -> bool:
        """True if ``text`` contains any full name, address, postcode or id held in the vault."""
        with self._lock:
            self._load()
            if not self._hashes.size:
                return False
            grams = _guard_forms(text)
            if not grams:
                return False
            hashes = (
                self._hasher.execute("SELECT hash(g) AS h FROM unnest(?::VARCHAR[]) t(g)", [grams])
                .fetchnumpy()["h"]
                .astype(np.uint64)
            )
        pos = np.searchsorted(self._hashes, hashes)
        pos[pos >= self._hashes.size] = 0
        return bool(np.any(self._hashes[pos] == hashes))

    def close(self) -> None:
        self._hasher.close()
