"""Dagster resources: run settings and the one storage seam (DuckDB warehouse + identity vault).

Every asset table goes through :class:`Warehouse`, so a council can swap the embedded DuckDB
default for another store by providing a resource with the same methods. Writes are staged
and committed with the warehouse as the one commit point (:mod:`safeguard.warehouse.storage`), so a
crash or a full disk never leaves the warehouse and the vault out of step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import yaml

from safeguard.contracts.council import CouncilConfig, load_config, parse_config
from safeguard.contracts.layout import DataDir
from safeguard.contracts.tables import LANDING_FILES, table_of
from safeguard.dpia.audit import AuditLog
from safeguard.dpia.pseudonymise import Pseudonymiser, load_or_create_key
from safeguard.expectations.settings import SuiteSettings
from safeguard.settings import raw_setting
from safeguard.warehouse.faults import fault_point
from safeguard.warehouse.storage import (
    RecoveryReport,
    StagedWrite,
    connect_database,
    database_path,
    is_internal_table,
    recover_data_dir,
)


class Warehouse(dg.ConfigurableResource):
    """The embedded warehouse under a data directory.

    The analytic warehouse and the identity vault are two database files so that access to
    identities can be controlled apart from analytics (the vault file is created 0600).
    A step's tables (and its artefact files) are staged and swapped in together by
    :meth:`stage`, so a failed or killed step never leaves a half-written table or a
    warehouse that disagrees with the vault, and the last good version stays readable.
    """

    data_dir: str

    @property
    def root(self) -> Path:
        path = Path(self.data_dir)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def _db_path(self, vault: bool) -> Path:
        return database_path(self.root, vault=vault)

    @contextmanager
    def connect(
        self, *, vault: bool = False, read_only: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect_database(self.root, vault=vault, read_only=read_only) as con:
            yield con

    @contextmanager
    def _incoming(
        self, df: pd.DataFrame, *, vault: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with ``df`` registered as ``_incoming``, inside one transaction."""
        with self.connect(vault=vault) as con:
            con.register("_incoming", df)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("_incoming")

    def recover(self) -> RecoveryReport:
        """Finish or discard any write a crash interrupted (cheap when there is none)."""
        return recover_data_dir(self.root, connect=self.connect)

    def stage(self, name: str) -> StagedWrite:
        """Stage a step's writes; leaving the ``with`` block publishes them all at once.

        ``name`` is the step (``score_and_flag``); it names the batch in the commit journal
        and is the hook for fault-injection tests (:mod:`safeguard.warehouse.faults`).
        """
        self.recover()
        return StagedWrite(
            name,
            connect=self.connect,
            root=self.root,
            artefacts=DataDir(self.root).artefacts,
            fault=fault_point,
        )

    def write_table(self, name: str, df: pd.DataFrame, *, vault: bool = False) -> int:
        """Replace table ``name`` with ``df`` atomically; return the row count."""
        with self.stage(name) as stage:
            return stage.write_table(name, df, vault=vault)

    def replace_partition(self, name: str, df: pd.DataFrame, *, column: str, value: object) -> int:
        """Replace the rows of ``name`` where ``column = value`` with ``df`` (one transaction)."""
        with self._incoming(df) as con:
            con.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT * FROM _incoming WHERE false'
            )
            con.execute(f'DELETE FROM "{name}" WHERE "{column}" = ?', [value])
            con.execute(f'INSERT INTO "{name}" SELECT * FROM _incoming')
        return len(df)

    def read_table(
        self, name: str, *, vault: bool = False, columns: list[str] | None = None
    ) -> pd.DataFrame:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        with self.connect(vault=vault, read_only=True) as con:
            return con.execute(f'SELECT {cols} FROM "{name}"').df()

    def table_exists(self, name: str, *, vault: bool = False) -> bool:
        if not self._db_path(vault).exists():
            return False
        with self.connect(vault=vault, read_only=True) as con:
            rows = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            ).fetchall()
        return bool(rows[0][0])

    def list_tables(self, *, vault: bool = False) -> list[str]:
        with self.connect(vault=vault, read_only=True) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name"
            ).fetchall()
        return [r[0] for r in rows if not is_internal_table(r[0])]

    def artefact_dir(self, *parts: str) -> Path:
        path = DataDir(self.root).artefact(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pseudonymiser(self) -> Pseudonymiser:
        return Pseudonymiser(load_or_create_key(self.root, raw_setting("pseudonym_key")))

    def audit_log(self) -> AuditLog:
        path = DataDir(self.root).audit_log
        path.parent.mkdir(parents=True, exist_ok=True)
        return AuditLog(path)


class CouncilSettings(dg.ConfigurableResource):
    """The council configuration (``safeguard run --config FILE``), as YAML text.

    Held as text so the resource stays serialisable for Dagster; parsed (and validated, with
    the key named on error) by :meth:`config`.
    """

    config_yaml: str | None = None
    source: str = "default council.yaml"

    def config(self) -> CouncilConfig:
        if self.config_yaml is None:
            return load_config(None)
        return parse_config(self.config_yaml, self.source)

    @classmethod
    def from_config(cls, config: CouncilConfig, source: str = "configuration") -> CouncilSettings:
        """A resource carrying an already validated configuration object."""
        return cls(config_yaml=yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False),
                   source=source)  # fmt: skip


class RunSettings(dg.ConfigurableResource):
    """Where the drops are and which date the run scores as of (None = the drop's extract date).

    ``objections_may_be_empty`` and ``max_objections_lost`` relax the objections register's
    gates (pipelines/objections.py) for a council that confirms it has no objections, or that
    objections were withdrawn by the people who made them; both default to failing closed.
    """

    landing_dir: str
    as_of: str | None = None
    truth_dir: str | None = None
    max_volume_drop_share: float = 0.2
    objections_may_be_empty: bool = False
    max_objections_lost: int = 0

    def suite_settings(self) -> SuiteSettings:
        """Thresholds of the ingest suites and quarantine gates (``mostly`` shares, limits).

        The documented defaults of :class:`~safeguard.expectations.settings.SuiteSettings` until the
        council configuration file feeds them (``SuiteSettings.from_params(**section)``).
        """
        return SuiteSettings()


# Vault tables that belong to an asset without being named after it.
VAULT_TABLE_ASSETS = {
    **{f"identity_{name}": table_of(name) for name in LANDING_FILES},
    "pending_objections": "objections",
}


class UndeclaredReadError(RuntimeError):
    """An asset read a table it does not declare: its lineage would under-report what it uses."""


class DeclaredReads:
    """The warehouse as one asset step may read it: only the tables it declares, and its own.

    Every read goes through :meth:`read_table` / :meth:`table_exists`, which refuse a table
    that is neither an upstream asset of the step (``deps``) nor one of its own outputs (the
    last good version), so the DPIA lineage and the data-flow map, drawn from ``deps``, show
    everything that touches what. Writes and everything else are the warehouse's own.
    """

    def __init__(self, warehouse: Warehouse, step: str, allowed: frozenset[str]) -> None:
        self._warehouse = warehouse
        self.step = step
        self.allowed = allowed

    def _check(self, name: str, vault: bool) -> None:
        asset = VAULT_TABLE_ASSETS.get(name, name) if vault else name
        if asset not in self.allowed:
            raise UndeclaredReadError(
                f"{self.step} reads {'vault ' if vault else ''}table {name!r} (asset {asset!r}) "
                "but does not declare it: add it to the asset's deps so lineage shows it"
            )

    def read_table(
        self, name: str, *, vault: bool = False, columns: list[str] | None = None
    ) -> pd.DataFrame:
        self._check(name, vault)
        return self._warehouse.read_table(name, vault=vault, columns=columns)

    def table_exists(self, name: str, *, vault: bool = False) -> bool:
        self._check(name, vault)
        return self._warehouse.table_exists(name, vault=vault)

    @property
    def unchecked(self) -> Warehouse:
        """The warehouse itself, for actions on what is served (withdrawing flags), not inputs."""
        return self._warehouse

    def __getattr__(self, name: str):
        return getattr(self._warehouse, name)


def declared_reads(context: dg.AssetExecutionContext, warehouse: Warehouse) -> DeclaredReads:
    """``warehouse`` restricted to the deps and outputs of the step running in ``context``."""
    definition = context.assets_def
    allowed = {key.path[-1] for key in definition.keys}
    allowed |= {dep.asset_key.path[-1] for spec in definition.specs for dep in spec.deps}
    return DeclaredReads(warehouse, definition.node_def.name, frozenset(allowed))
