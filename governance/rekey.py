"""Key rotation: re-key every pseudonym in the vault, warehouse, portal database and text
artefacts under a new pseudonymisation key, consistently (``safeguard keys rotate``).

HMAC pseudonyms cannot be turned into each other without the values behind them, so each
kind is re-keyed from what the vault holds, and checked against the old key first:

- ``record`` (``source:record_key``), ``agency_person`` (``source:agency_id``) and
  ``objection`` (``objection_id``) are recomputed from the vault's identity tables;
- ``person_key`` from the record its cluster was keyed on (the vault record whose ``person``
  pseudonym under the old key is the person key), ``family_key`` from the member whose old
  person key gives it, ``flag_id`` from its family key, as-of date and model version: all
  exactly what the next pipeline run computes under the new key;
- anything else (address keys, tenancy and incident pseudonyms, keys of people no longer in
  the vault) is *wrapped*: ``pseudonym("rotated", old)`` under the new key. That is
  consistent everywhere it appears and unlinkable without the new key; the next run
  rebuilds those tables from the landing drop with fresh pseudonyms.

Everything is first written to ``DIR/.key-rotation/`` (fresh database files, re-keyed text
files, the new key), then swapped in, the key last. An interrupted rotation is finished by
running the command again; until then the pipeline refuses to start (see
:func:`safeguard.dpia.pseudonymise.load_or_create_key`). The audit trail is append-only and keeps the
old subjects: the vault's ``key_rotations`` table maps old person, family and flag keys to
the current ones so subject access still finds them, and expires with the audit trail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from safeguard.contracts.layout import ARTEFACTS_DIR, DATA_DOCS_DIR, REPORTS_DIR
from safeguard.dpia.audit import AuditLog
from safeguard.dpia.pseudonymise import (
    KEY_ENV_VAR,
    KEY_FILE_NAME,
    ROTATION_DIR_NAME,
    Pseudonymiser,
    load_or_create_key,
)
from safeguard.governance.store import (
    AUDIT_PATH,
    VAULT_FILE,
    WAREHOUSE_FILE,
    list_tables,
    rewrite_database,
    table_columns,
)
from safeguard.portal.records import (
    portal_location,
    read_practitioner_tables,
    replace_practitioner_tables,
)
from safeguard.portal.snapshot import republish_serving_snapshot

__all__ = ["PSEUDONYM_COLUMNS", "RotationReport", "rotate_keys"]

#: Columns that hold nothing but a pseudonym (or a flag id) wherever they appear.
PSEUDONYM_COLUMNS = frozenset(
    {
        "record_pseudo",
        "agency_person_pseudo",
        "person_key",
        "family_key",
        "flag_id",
        "objection_pseudo",
        "address_key",
        "group_pseudo",
        "group_key",
        "tenancy_ref",
        "incident_ref",
        "current_key",
    }
)
_TOKEN = re.compile(r"(?<![0-9a-f])(?:flag-)?[0-9a-f]{16}(?![0-9a-f])")
_TEXT_SUFFIXES = frozenset({".html", ".htm", ".md", ".json", ".csv", ".txt", ".svg"})
_TEXT_ROOTS = (ARTEFACTS_DIR, REPORTS_DIR, DATA_DOCS_DIR)
_DATABASES = (VAULT_FILE, WAREHOUSE_FILE)
_READY = "READY"
#: The portal database's re-keyed rows, staged as Parquet and swapped in through
#: :mod:`safeguard.portal.records` (it may be SQLite, PostgreSQL or DuckDB: never a file moved here).
_PORTAL_STAGE = "portal-records"


class KeyRotationError(RuntimeError):
    """The rotation cannot proceed as asked (nothing changed unless the message says so)."""


@dataclass(frozen=True)
class RotationReport:
    """What a rotation re-keyed: values per kind (recomputed or wrapped), rows, files."""

    recomputed: dict[str, int] = field(default_factory=dict)
    wrapped: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    key_file_written: bool = True
    audit_seq: int | None = None


def _flag(pseudonymiser: Pseudonymiser, family_key: str, day: str, version: str) -> str:
    return "flag-" + pseudonymiser.pseudonym("flag", f"{family_key}\x1f{day}\x1f{version}")


def _read(path: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _tables_with(path: Path, column: str) -> list[str]:
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND column_name = ? ORDER BY table_name",
            [column],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


class _Mapping:
    """Old pseudonym -> new pseudonym, recomputed where the vault allows, else wrapped."""

    def __init__(self, old: Pseudonymiser, new: Pseudonymiser) -> None:
        self.old, self.new = old, new
        self.map: dict[str, str] = {}
        self.recomputed: dict[str, int] = {}
        self.wrapped = 0
        self.subjects: set[tuple[str, str]] = set()  # (kind, old key) the audit trail may quote

    def _add(self, namespace: str, pairs: Iterable[tuple[str, str]]) -> None:
        count = 0
        for old, new in pairs:
            if old not in self.map:
                self.map[old] = new
                count += 1
        self.recomputed[namespace] = self.recomputed.get(namespace, 0) + count

    def history(self) -> list[tuple[str, str, str]]:
        """(kind, old, new) of every person, family and flag key: audit subjects use them."""
        return sorted((kind, old, self.map[old]) for kind, old in self.subjects)

    def recompute(self, namespace: str, values: list[str], existing: list[str]) -> None:
        """Map ``existing`` (pseudonyms of ``values`` under the old key) after checking them."""
        old = [self.old.pseudonym(namespace, v) for v in values]
        wrong = sum(o != e for o, e in zip(old, existing, strict=True) if e is not None)
        if wrong:
            raise KeyRotationError(
                f"{wrong} {namespace} pseudonym(s) in the vault were not made with the current "
                "key: the key in use is not the key the data was written with. Nothing changed."
            )
        self._add(
            namespace,
            ((o, self.new.pseudonym(namespace, v)) for o, v in zip(old, values, strict=True)),
        )

    def anchored(self, namespace: str, values: list[str], existing: list[str]) -> dict[str, str]:
        """Which candidate each key was derived from: the one that reproduces it (old key)."""
        found: dict[str, str] = {}
        for value, key in zip(values, existing, strict=True):
            if key is not None and key not in found and self.old.pseudonym(namespace, value) == key:
                found[key] = value
        return found

    def derived(self, namespace: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Record re-derived person, family or flag keys."""
        self._add(namespace, pairs)

    def remap(self, value: str) -> str:
        """The new pseudonym of ``value`` (wrapped when it could not be recomputed)."""
        mapped = self.map.get(value)
        if mapped is None:
            if value.startswith("flag-"):
                mapped = "flag-" + self.new.pseudonym("rotated", value[5:])
            else:
                mapped = self.new.pseudonym("rotated", value)
            self.map[value] = mapped
            self.wrapped += 1
        return mapped

    def substitute(self, text: str) -> str:
        """Replace every known old pseudonym quoted in free text or JSON."""
        return _TOKEN.sub(lambda m: self.map.get(m.group(0), m.group(0)), text)


def _build_mapping(data_dir: Path, mapping: _Mapping, portal: dict[str, pd.DataFrame]) -> None:
    vault, warehouse = data_dir / VAULT_FILE, data_dir / WAREHOUSE_FILE
    vault_tables = set(list_tables_at(vault))
    for table in sorted(t for t in vault_tables if t.startswith("identity_")):
        if table in ("identity_vault", "identity_objections"):
            continue
        source = table.removeprefix("identity_")
        frame = _read(vault, f'SELECT * FROM "{table}"')
        keys = frame["record_key"].astype("string")
        mapping.recompute("record", (f"{source}:" + keys).tolist(), frame["record_pseudo"].tolist())
        if "agency_id" in frame:
            ids = frame["agency_id"].astype("string").dropna()
            values = (f"{source}:" + ids).tolist()
            mapping.recompute(
                "agency_person", values, [mapping.old.pseudonym("agency_person", v) for v in values]
            )
    if "identity_objections" in vault_tables:
        frame = _read(vault, "SELECT objection_id, objection_pseudo FROM identity_objections")
        mapping.recompute(
            "objection",
            frame["objection_id"].astype("string").tolist(),
            frame["objection_pseudo"].tolist(),
        )
    if "identity_vault" in vault_tables:
        frame = _read(  # a record dated after a past run's as-of date has no person key
            vault,
            "SELECT source, record_key, person_key FROM identity_vault "
            "WHERE person_key IS NOT NULL",
        )
        anchors = (
            frame["source"].astype("string") + "\x1f" + frame["record_key"].astype("string")
        ).tolist()
        people = mapping.anchored("person", anchors, frame["person_key"].tolist())
        mapping.derived(
            "person", ((k, mapping.new.pseudonym("person", a)) for k, a in people.items())
        )
    if "families" in set(list_tables_at(warehouse)):
        frame = _read(warehouse, "SELECT DISTINCT person_key, family_key FROM families")
        families = mapping.anchored(
            "family", frame["person_key"].tolist(), frame["family_key"].tolist()
        )
        mapping.derived(
            "family",
            ((f, mapping.new.pseudonym("family", mapping.remap(p))) for f, p in families.items()),
        )
    flag_columns = {"flag_id", "family_key", "as_of_date", "model_version"}
    if flag_columns <= set(_tables_columns(warehouse, "flags")):
        frame = _read(
            warehouse,
            "SELECT DISTINCT flag_id, family_key, strftime(as_of_date::DATE, '%Y-%m-%d') AS day, "
            "model_version FROM flags",
        )
        pairs = []
        for flag, family, day, version in frame.itertuples(index=False):
            if flag is None or family is None or _flag(mapping.old, family, day, version) != flag:
                continue
            pairs.append((flag, _flag(mapping.new, mapping.remap(family), day, version)))
        mapping.derived("flag", pairs)
    columns: list[tuple[str, pd.Series]] = []
    for db in _DATABASES:  # every other pseudonym is wrapped, before any text is rewritten
        for column in sorted(PSEUDONYM_COLUMNS):
            for table in _tables_with(data_dir / db, column):
                values = _read(
                    data_dir / db, f'SELECT DISTINCT "{column}"::VARCHAR AS v FROM "{table}"'
                )
                columns.append((column, values["v"]))
    for frame in portal.values():
        columns += [(c, frame[c]) for c in sorted(PSEUDONYM_COLUMNS & set(frame.columns))]
    for column, values in columns:
        for value in values.dropna().unique():
            mapping.remap(str(value))
            if column in ("person_key", "family_key", "flag_id"):
                mapping.subjects.add((column, str(value)))


def _tables_columns(path: Path, table: str) -> list[str]:
    if table not in list_tables_at(path):
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        return list(table_columns(con, table))
    finally:
        con.close()


def list_tables_at(path: Path) -> list[str]:
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        return list_tables(con)
    finally:
        con.close()


def _arrow_udf(fn: Callable[[str], str]) -> Callable[[pa.Array], pa.Array]:
    def apply(values: pa.Array) -> pa.Array:
        return pa.array([None if v is None else fn(v) for v in values.to_pylist()], pa.string())

    return apply


def _rekey_database(source: Path, target: Path, mapping: _Mapping) -> dict[str, int]:
    """Copy ``source`` to a fresh ``target`` with every pseudonym re-keyed."""
    rows: dict[str, int] = {}
    con = duckdb.connect(str(source))
    try:
        con.create_function(
            "sg_remap", _arrow_udf(mapping.remap), ["VARCHAR"], "VARCHAR", type="arrow"
        )
        con.create_function(
            "sg_substitute", _arrow_udf(mapping.substitute), ["VARCHAR"], "VARCHAR", type="arrow"
        )
        con.execute(f"ATTACH '{str(target).replace(chr(39), chr(39) * 2)}' AS sg_rekeyed")
        for table in list_tables(con):
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            select = []
            for name, kind in columns:
                quoted = f'"{name}"'
                if kind == "VARCHAR" and name in PSEUDONYM_COLUMNS:
                    select.append(f"sg_remap({quoted}) AS {quoted}")
                elif kind == "VARCHAR" and name != "old_key":  # history keeps the old key
                    select.append(f"sg_substitute({quoted}) AS {quoted}")
                else:
                    select.append(quoted)
            con.execute(
                f'CREATE TABLE sg_rekeyed."{table}" AS SELECT {", ".join(select)} FROM "{table}"'
            )
            rows[f"{source.name.removesuffix('.duckdb')}.{table}"] = int(
                con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            )
        con.execute("DETACH sg_rekeyed")
    finally:
        con.close()
    return rows


def _rekey_portal(
    frames: dict[str, pd.DataFrame], staging: Path, mapping: _Mapping
) -> dict[str, int]:
    """Stage the portal's rows with every pseudonym re-keyed (swapped in by :func:`_finish`)."""
    rows: dict[str, int] = {}
    for table, frame in frames.items():
        rekeyed = frame.copy()
        for column in frame.columns:
            if not pd.api.types.is_object_dtype(frame[column]) and not (
                pd.api.types.is_string_dtype(frame[column])
            ):
                continue  # dates, numbers, flags
            apply = mapping.remap if column in PSEUDONYM_COLUMNS else mapping.substitute
            rekeyed[column] = frame[column].map(
                lambda v, fn=apply: v if v is None or not isinstance(v, str) else fn(v)
            )
        target = staging / _PORTAL_STAGE / f"{table}.parquet"
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        rekeyed.to_parquet(target, index=False)
        os.chmod(target, 0o600)
        rows[f"portal.{table}"] = len(frame)
    return rows


def _text_files(data_dir: Path) -> list[Path]:
    files = []
    for root in _TEXT_ROOTS:
        base = data_dir / root
        if base.exists():
            files += [
                p
                for p in sorted(base.rglob("*"))
                if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES
            ]
    return files


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _finish(data_dir: Path, staging: Path) -> None:
    """Move every staged file into place, the key last (idempotent: safe to rerun)."""
    for staged in sorted(p for p in staging.rglob("*") if p.is_file()):
        relative = staged.relative_to(staging)
        if relative.as_posix() in (_READY, KEY_FILE_NAME) or relative.parts[0] == _PORTAL_STAGE:
            continue
        target = data_dir / relative
        os.replace(staged, target)
        if target.suffix == ".duckdb":
            target.with_name(target.name + ".wal").unlink(missing_ok=True)
    portal = staging / _PORTAL_STAGE
    if portal.exists():  # one transaction: a rerun after a crash writes the same rows again
        frames = {p.stem: pd.read_parquet(p) for p in sorted(portal.glob("*.parquet"))}
        replace_practitioner_tables(data_dir, frames)  # SQLite vacuumed, PostgreSQL VACUUM FULL
        where = portal_location(data_dir)
        if where.backend == "duckdb" and where.path is not None:
            # DuckDB's DELETE only marks blocks free: the old keys would stay in the file
            rewrite_database(where.path)
    key = staging / KEY_FILE_NAME
    if key.exists():
        os.replace(key, data_dir / KEY_FILE_NAME)
    shutil.rmtree(staging)
    # The portal serves the re-keyed warehouse at once; no snapshot under the old key is left.
    republish_serving_snapshot(data_dir)


def rotate_keys(
    data_dir: Path, *, actor: str, new_key: bytes | None = None, key_hex: str | None = None
) -> RotationReport:
    """Re-key the whole data directory under a new pseudonymisation key (module docstring).

    Parameters
    ----------
    data_dir
        The data directory. The portal must be stopped (its sessions would hold old keys);
        its database is re-keyed through :mod:`safeguard.portal.records`, wherever it is.
    actor
        Who rotates (the audit entry's actor).
    new_key
        The new key; 32 random bytes by default. Required when the current key comes from
        ``SAFEGUARD_PSEUDONYM_KEY`` (then no key file is written: put the new key in the
        secret store before the next run).
    key_hex
        The current key when it comes from the ``pseudonym_key`` setting
        (``SAFEGUARD_PSEUDONYM_KEY``, hex), passed in by the command line.
    """
    data_dir = Path(data_dir)
    staging = data_dir / ROTATION_DIR_NAME
    if (staging / _READY).exists():  # an interrupted rotation: finish it
        _finish(data_dir, staging)
        raise KeyRotationError(
            "an interrupted key rotation was finished; run `safeguard keys rotate` again to "
            "rotate once more"
        )
    shutil.rmtree(staging, ignore_errors=True)  # half-prepared staging is discarded
    from_env = key_hex is not None
    if not from_env and not (data_dir / KEY_FILE_NAME).exists():
        raise KeyRotationError(f"no pseudonymisation key in {data_dir}: nothing to rotate")
    if from_env and new_key is None:
        raise KeyRotationError(
            f"the key comes from {KEY_ENV_VAR}: pass the new key (e.g. safeguard keys rotate "
            f"--new-key-env VAR) and put it in the secret store after the rotation"
        )
    old_key = load_or_create_key(data_dir, key_hex)
    new_key = new_key or os.urandom(32)
    if new_key == old_key:
        raise KeyRotationError("the new key is the current key")
    mapping = _Mapping(Pseudonymiser(old_key), Pseudonymiser(new_key))
    audit = AuditLog(data_dir / AUDIT_PATH)
    if not audit.verify().ok:
        raise KeyRotationError("the audit trail does not verify; the rotation was not started")
    portal = read_practitioner_tables(data_dir)
    _build_mapping(data_dir, mapping, portal)
    staging.mkdir(mode=0o700)
    rows: dict[str, int] = {}
    for name in _DATABASES:
        if (data_dir / name).exists():
            rows.update(_rekey_database(data_dir / name, staging / name, mapping))
    rows.update(_rekey_portal(portal, staging, mapping))
    _record_history(staging / VAULT_FILE, mapping)
    files = []
    for path in _text_files(data_dir):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        rekeyed = mapping.substitute(text)
        if rekeyed != text:
            relative = path.relative_to(data_dir)
            _write_private(staging / relative, rekeyed.encode("utf-8", errors="surrogateescape"))
            files.append(relative.as_posix())
    if not from_env:
        _write_private(staging / KEY_FILE_NAME, new_key)
    _write_private(staging / _READY, b"")
    _finish(data_dir, staging)
    entry = audit.append(
        actor,
        "keys_rotated",
        recomputed=mapping.recomputed,
        wrapped=mapping.wrapped,
        tables=len(rows),
        files=len(files),
    )
    return RotationReport(
        dict(mapping.recomputed), mapping.wrapped, rows, tuple(files), not from_env, entry.seq
    )


def _record_history(vault: Path, mapping: _Mapping) -> None:
    """Old -> current person, family and flag keys, so subject access finds old audit entries."""
    if not vault.exists():
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = mapping.history()
    history = pd.DataFrame(
        {
            "rotated_at": pd.Series([now] * len(rows), dtype="datetime64[us]"),
            "kind": pd.Series([h[0] for h in rows], dtype="string"),
            "old_key": pd.Series([h[1] for h in rows], dtype="string"),
            "current_key": pd.Series([h[2] for h in rows], dtype="string"),
        }
    )
    con = duckdb.connect(str(vault))
    try:
        con.register("sg_history", history)
        con.execute(
            "CREATE TABLE IF NOT EXISTS key_rotations AS SELECT * FROM sg_history WHERE false"
        )
        con.execute("INSERT INTO key_rotations SELECT * FROM sg_history")
        con.unregister("sg_history")
    finally:
        con.close()
