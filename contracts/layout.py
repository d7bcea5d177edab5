"""Where everything lives in a data directory (docs/DESIGN.md, "Data directory").

One object, :class:`DataDir`, names every file and folder under ``--data-dir DIR``; the
pipelines, governance, the portal and the command line take their paths from it instead of
writing ``"warehouse.duckdb"`` or ``DIR / "reports"`` themselves. The file names are also
exported as constants for code that joins them to a root it already holds.

The pseudonym key, the key-rotation folder and the audit trail are also named by ``dpia``
(which imports nothing of ours); this module imports nothing at all, so the command line can
use it without loading pandas, and ``tests/contracts/test_layout.py`` checks the names agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ARTEFACTS_DIR",
    "AUDIT_LOG",
    "DAGSTER_HOME_DIR",
    "DATA_DOCS_DIR",
    "KEY_FILE",
    "KEY_ROTATION_DIR",
    "LANDING_DIR",
    "LEGACY_PORTAL_FILE",
    "LINKAGE_MODEL",
    "LOGS_DIR",
    "PORTAL_FILE",
    "REPORTS_DIR",
    "RUN_LOG",
    "SERVING_DIR",
    "STAGING_DIR",
    "TRUTH_DIR",
    "VAULT_FILE",
    "WAREHOUSE_FILE",
    "DataDir",
]

#: The analytic warehouse: every asset table, pseudonymised only.
WAREHOUSE_FILE = "warehouse.duckdb"
#: The identity vault (restricted store, mode 0600): identifiers only.
VAULT_FILE = "vault.duckdb"
#: The portal's accounts, sessions, judgements, reallocations and login throttle (the embedded
#: default SQLite URL; PostgreSQL in production).
PORTAL_FILE = "portal.sqlite"
#: The embedded default before SQLite: a data directory that has it (and no SQLite file) keeps
#: using it, so an upgrade never starts an empty portal beside the council's accounts.
LEGACY_PORTAL_FILE = "portal.duckdb"
#: The HMAC pseudonym key, generated on first run (mode 0600).
KEY_FILE = "pseudonym.key"
#: Exists only while ``safeguard keys rotate`` runs.
KEY_ROTATION_DIR = ".key-rotation"
#: The append-only audit trail (relative to the data directory).
AUDIT_LOG = Path("audit") / "audit.jsonl"
#: Models, the linkage model, charts.
ARTEFACTS_DIR = "artefacts"
#: Governance and monitoring reports (HTML, Markdown, DOCX).
REPORTS_DIR = "reports"
#: GX Data Docs (static HTML).
DATA_DOCS_DIR = "data_docs"
#: The portal's published serving snapshots.
SERVING_DIR = "serving"
#: The command line's run log folder and file.
LOGS_DIR = "logs"
RUN_LOG = Path(LOGS_DIR) / "safeguard.log"
#: DAGSTER_HOME for runs started by the command line.
DAGSTER_HOME_DIR = "dagster_home"
#: Artefacts of a write not yet published (crash consistency).
STAGING_DIR = ".staging"
#: Delivered drops and the generator's truth files (demo layout; ``--landing`` may differ).
LANDING_DIR = "landing"
TRUTH_DIR = "truth"
#: Where the linkage model is saved (``safeguard.linkage.link_with_details(artefact_dir=...)``).
LINKAGE_MODEL = Path(ARTEFACTS_DIR) / "linkage" / "linkage_model.json"


@dataclass(frozen=True)
class DataDir:
    """The paths of one data directory.

    >>> DataDir(Path("/srv/safeguard")).warehouse
    PosixPath('/srv/safeguard/warehouse.duckdb')
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def warehouse(self) -> Path:
        return self.root / WAREHOUSE_FILE

    @property
    def vault(self) -> Path:
        return self.root / VAULT_FILE

    @property
    def portal_db(self) -> Path:
        return self.root / PORTAL_FILE

    @property
    def legacy_portal_db(self) -> Path:
        return self.root / LEGACY_PORTAL_FILE

    @property
    def key_file(self) -> Path:
        return self.root / KEY_FILE

    @property
    def key_rotation(self) -> Path:
        return self.root / KEY_ROTATION_DIR

    @property
    def audit_log(self) -> Path:
        return self.root / AUDIT_LOG

    @property
    def artefacts(self) -> Path:
        return self.root / ARTEFACTS_DIR

    def artefact(self, *parts: str) -> Path:
        """A path under ``artefacts/`` (``artefact("model", "charts.json")``)."""
        return self.artefacts.joinpath(*parts)

    @property
    def reports(self) -> Path:
        return self.root / REPORTS_DIR

    @property
    def data_docs(self) -> Path:
        return self.root / DATA_DOCS_DIR

    @property
    def serving(self) -> Path:
        return self.root / SERVING_DIR

    @property
    def logs(self) -> Path:
        return self.root / LOGS_DIR

    @property
    def run_log(self) -> Path:
        return self.root / RUN_LOG

    @property
    def dagster_home(self) -> Path:
        return self.root / DAGSTER_HOME_DIR

    @property
    def staging(self) -> Path:
        return self.root / STAGING_DIR

    @property
    def landing(self) -> Path:
        """The demo layout's landing folder (``--landing`` / SAFEGUARD_LANDING may differ)."""
        return self.root / LANDING_DIR

    @property
    def truth(self) -> Path:
        return self.root / TRUTH_DIR

    @property
    def linkage_model(self) -> Path:
        return self.root / LINKAGE_MODEL
