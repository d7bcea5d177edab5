"""Measured facts of one run that the governance reports quote (aggregates only).

Every field is optional so that the reports can be built before later stages exist (a DPIA
is needed before the first model is trained). :func:`collect_run_facts` reads the aggregate
tables of a data directory; the pipeline adds what only it knows (gate results, model and
fairness headlines) as keyword arguments. Nothing here may hold a name, key or row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from safeguard.dpia.audit import AuditLog
from safeguard.governance.store import AUDIT_PATH, WAREHOUSE_FILE, read_table
from safeguard.portal.records import read_portal_table

__all__ = [
    "AuditFacts",
    "FairnessFacts",
    "FileFacts",
    "FirewallDrop",
    "GateResult",
    "ModelFacts",
    "MonitoringFacts",
    "OverrideFacts",
    "QuarantineCount",
    "RunFacts",
    "collect_run_facts",
]


@dataclass(frozen=True)
class FileFacts:
    """Row accounting of one delivered file."""

    file: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int


@dataclass(frozen=True)
class FirewallDrop:
    """A column the firewall dropped: its name and row count only, never a value."""

    file: str
    column: str
    action: str
    row_count: int


@dataclass(frozen=True)
class QuarantineCount:
    """Quarantined rows by file, column and rule (counts only; reasons stay in the table)."""

    file: str
    column: str
    rule: str
    rows: int


@dataclass(frozen=True)
class GateResult:
    """Outcome of one blocking check."""

    name: str
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class ModelFacts:
    """Headline of the model in use: version, evaluation figures and the performance gate."""

    version: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    gate_passed: bool | None = None
    gate_message: str = ""


@dataclass(frozen=True)
class FairnessFacts:
    """Headline of the fairness audit and its gate.

    ``verdicts`` counts the gate's comparisons by verdict; ``inconclusive`` and
    ``not_assessable`` name each such group (with the metric and why) so a reviewer sees what
    the data could not show; ``sign_offs`` are the council's named acceptances, one sentence each.
    """

    headline: Mapping[str, float | str] = field(default_factory=dict)
    gate_passed: bool | None = None
    gate_message: str = ""
    verdicts: Mapping[str, int] = field(default_factory=dict)
    inconclusive: tuple[str, ...] = ()
    not_assessable: tuple[str, ...] = ()
    sign_offs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OverrideFacts:
    """Practitioners' recorded decisions: how many, and the share of each decision."""

    judgements: int
    shares: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitoringFacts:
    """Monitoring after go-live: how many past runs were judged and which rules fired.

    ``realised`` holds one line per month with complete outcomes (realised precision at
    capacity against the promise); ``fired`` the rules with a firing, with their first month.
    """

    months: int
    months_with_outcomes: int
    months_below_promise: int
    fired: tuple[str, ...] = ()
    realised: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditFacts:
    """The audit trail at report time: integrity and how many entries of each action."""

    entries: int
    intact: bool
    reason: str
    head_seq: int
    head_hash: str
    by_action: Mapping[str, int] = field(default_factory=dict)
    # The run id `safeguard run` printed (its run_started entry), and whether that run's
    # closing run_finished entry was still to come when these facts were read.
    last_run_id: str | None = None
    run_open: bool = False


@dataclass(frozen=True)
class RunFacts:
    """Aggregate facts of one run, all optional (see the module docstring)."""

    run_id: str | None = None
    generated_at: datetime | None = None
    extract_date: date | None = None
    as_of_date: date | None = None
    files: tuple[FileFacts, ...] = ()
    firewall: tuple[FirewallDrop, ...] = ()
    quarantine: tuple[QuarantineCount, ...] = ()
    gates: tuple[GateResult, ...] = ()
    linkage_quality: Mapping[str, float] = field(default_factory=dict)
    model: ModelFacts | None = None
    fairness: FairnessFacts | None = None
    flags_per_worker: tuple[int, ...] = ()
    overrides: OverrideFacts | None = None
    audit: AuditFacts | None = None
    monitoring: MonitoringFacts | None = None

    @property
    def timestamp(self) -> datetime:
        """When the reports were generated (now, when the run did not say)."""
        return self.generated_at or datetime.now(UTC)

    @property
    def pipeline_run_id(self) -> str | None:
        """The run id the command line printed and the audit trail holds (the reports are
        built by a second, governance run, whose own id is ``run_id``)."""
        if self.audit is not None and self.audit.last_run_id:
            return self.audit.last_run_id
        return self.run_id

    def gates_matching(self, fragment: str) -> list[GateResult]:
        """Gate results whose name contains ``fragment`` (case-insensitive)."""
        return [g for g in self.gates if fragment.lower() in g.name.lower()]


def _date(value: object) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _audit_facts(path: Path) -> AuditFacts | None:
    if not path.exists():
        return None
    log = AuditLog(path)
    result = log.verify()
    by_action: dict[str, int] = {}
    last_run: str | None = None
    run_open = False
    if result.ok:
        for entry in log.entries():
            by_action[entry.action] = by_action.get(entry.action, 0) + 1
            run_id = (entry.details or {}).get("run_id")
            if entry.action == "run_started" and run_id:
                last_run, run_open = str(run_id), True
            elif entry.action == "run_finished" and run_id == last_run:
                run_open = False
    seq, digest = log.head() if result.ok else (result.entries, "")
    return AuditFacts(
        result.entries, result.ok, result.reason, seq, digest, by_action, last_run, run_open
    )


def _monitoring_facts(warehouse: Path) -> MonitoringFacts | None:
    performance = read_table(warehouse, "monitoring_performance")
    if performance is None or "kind" not in performance.columns:
        return None
    triggers = read_table(warehouse, "monitoring_triggers")
    real = performance.loc[(performance["kind"] == "realised")
                           & (performance["metric"] == "precision_at_capacity")].sort_values("as_of_date")  # fmt: skip
    fired: tuple[str, ...] = ()
    if triggers is not None and "fired" in triggers.columns:
        hits = triggers.loc[triggers["fired"].fillna(False).astype(bool)]
        first = hits.groupby("trigger")["as_of_date"].min()
        fired = tuple(f"{t}: first fired at {pd.Timestamp(d):%Y-%m}" for t, d in first.items())
    return MonitoringFacts(
        months=int(performance["as_of_date"].nunique()),
        months_with_outcomes=len(real),
        months_below_promise=int((real["status"] == "below promise").sum()),
        fired=fired,
        realised=tuple(
            f"{pd.Timestamp(r.as_of_date):%Y-%m}: {r.value:.3f} (promised {r.promised_lower:.3f}-"
            f"{r.promised_upper:.3f}): {r.status}"
            for r in real.itertuples()
        ),
    )


def collect_run_facts(
    data_dir: Path,
    *,
    run_id: str | None = None,
    gates: Sequence[GateResult] = (),
    model: ModelFacts | None = None,
    fairness: FairnessFacts | None = None,
    generated_at: datetime | None = None,
    as_of_date: date | None = None,
) -> RunFacts:
    """Read the aggregate tables of ``data_dir`` into :class:`RunFacts`.

    Only aggregate tables are read (row accounting, firewall log, quarantine counts, linkage
    quality, flag counts per worker, decision shares); tables that do not exist yet are
    left empty. The latest extract in ``row_accounting`` is the run's extract.
    """
    data_dir = Path(data_dir)
    warehouse = data_dir / WAREHOUSE_FILE
    accounting = read_table(warehouse, "row_accounting")
    extract: date | None = None
    files: tuple[FileFacts, ...] = ()
    if accounting is not None and not accounting.empty:
        latest = accounting["extract_date"].max()
        extract = _date(latest)
        current = accounting[accounting["extract_date"] == latest].sort_values("file")
        files = tuple(
            FileFacts(str(r.file), int(r.rows_read), int(r.rows_accepted), int(r.rows_quarantined))
            for r in current.itertuples()
        )
    firewall = read_table(
        warehouse,
        "firewall_log",
        sql='SELECT file, "column", action, sum(row_count) AS n FROM firewall_log '
        "WHERE extract_date = (SELECT max(extract_date) FROM firewall_log) "
        'GROUP BY ALL ORDER BY file, "column"',
    )
    quarantine = read_table(
        warehouse,
        "quarantine",
        sql='SELECT file, "column", rule, count(*) AS n FROM quarantine '
        "WHERE extract_date = (SELECT max(extract_date) FROM quarantine) "
        'GROUP BY ALL ORDER BY file, "column", rule',
    )
    quality = read_table(warehouse, "linkage_quality")
    per_worker = read_table(
        warehouse, "flags", sql="SELECT count(*) AS n FROM flags GROUP BY worker_id ORDER BY n"
    )
    decisions = read_portal_table(
        data_dir,
        "judgements",
        sql="SELECT decision, count(*) AS n FROM judgements GROUP BY decision ORDER BY decision",
    )
    overrides = None
    if decisions is not None and int(decisions["n"].sum()) > 0:
        total = int(decisions["n"].sum())
        overrides = OverrideFacts(
            total, {str(r.decision): int(r.n) / total for r in decisions.itertuples()}
        )
    return RunFacts(
        run_id=run_id,
        generated_at=generated_at,
        extract_date=extract,
        as_of_date=as_of_date,
        files=files,
        firewall=tuple(
            FirewallDrop(str(r.file), str(r.column), str(r.action), int(r.n))
            for r in (firewall.itertuples() if firewall is not None else ())
        ),
        quarantine=tuple(
            QuarantineCount(str(r.file), str(r.column), str(r.rule), int(r.n))
            for r in (quarantine.itertuples() if quarantine is not None else ())
        ),
        gates=tuple(gates),
        linkage_quality=(
            {str(r.metric): float(r.value) for r in quality.itertuples()}
            if quality is not None
            else {}
        ),
        model=model,
        fairness=fairness,
        flags_per_worker=tuple(int(n) for n in per_worker["n"]) if per_worker is not None else (),
        overrides=overrides,
        audit=_audit_facts(data_dir / AUDIT_PATH),
        monitoring=_monitoring_facts(warehouse),
    )
