"""Caseloads and printable per-practitioner case packs.

``build_caseloads`` lists each practitioner's flagged families; ``write_case_packs`` writes one
HTML page per practitioner (print CSS, A4) with the "indicator, not a decision" statement, each
family's band, probability, reasons and the pseudonymous evidence references, and a prompt to
record professional judgement in the portal. Packs carry pseudonymous keys only: names appear
only in the portal, for the allocated worker (docs/DESIGN.md, re-identification).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from safeguard.flags.flagging import FLAG_ROLES, FlaggingInputError
from safeguard.flags.waterfall import waterfall_svg

CASELOAD_COLUMNS = (
    "worker_id",
    "flag_id",
    "family_key",
    "rank",
    "band",
    "probability",
    "n_reasons",
)
STATEMENT = (
    "It says that the records partner agencies hold about this family look like those of "
    "families where a child later needed a child protection response. It does not say that a "
    "child is at risk or that anyone has done wrong, and many flagged families will need "
    "nothing further. Check the records, talk to colleagues who know the family, and decide "
    "with your professional judgement whether any action is needed."
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_AGENCY = {
    "police": "Police",
    "education": "Education",
    "housing": "Housing",
    "social_care": "Children's social care",
    "revenues_benefits": "Revenues and benefits",
    "families": "Family membership",
}


@dataclass(frozen=True)
class CasePackConfig:
    """How much evidence is printed per reason (the portal lists all of it)."""

    max_evidence_rows: int = 12
    # A SHAP waterfall per family (flags/waterfall.py, inline SVG, well under a millisecond);
    # off for benchmarks that time the pack's text alone.
    waterfall: bool = True


def _require(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FlaggingInputError(f"table {table} lacks column(s) {missing} (docs/DESIGN.md)")


def build_caseloads(
    flags: pd.DataFrame, explanations: pd.DataFrame, workers: pd.DataFrame
) -> pd.DataFrame:
    """``caseloads``: each practitioner's flagged families, highest rank first.

    Raises
    ------
    FlaggingInputError
        If a flag is allocated to a worker who is not in ``workers`` or whose role does not
        receive flags (a stale workers file must not route families to a departed worker).
    """
    _require(flags, "flags", ("flag_id", "family_key", "worker_id", "rank", "band", "probability"))
    _require(explanations, "flag_explanations", ("flag_id",))
    _require(workers, "workers", ("worker_id", "role"))
    roles = workers.assign(worker_id=workers["worker_id"].astype("string")).set_index("worker_id")
    allocated = flags["worker_id"].astype("string")
    unknown = sorted(set(allocated) - set(roles.index))
    if unknown:
        raise FlaggingInputError(f"flags allocated to worker(s) {unknown} missing from workers")
    wrong = sorted(w for w in set(allocated) if roles.at[w, "role"] not in FLAG_ROLES)
    if wrong:
        raise FlaggingInputError(f"flags allocated to worker(s) {wrong} whose role gets no flags")
    n_reasons = explanations["flag_id"].astype("string").value_counts()
    out = flags.assign(
        worker_id=allocated,
        n_reasons=flags["flag_id"].astype("string").map(n_reasons).fillna(0).astype("Int64"),
    )
    out = out.sort_values(["worker_id", "rank"])[list(CASELOAD_COLUMNS)]
    return out.astype({"flag_id": "string", "family_key": "string", "band": "string"}).reset_index(
        drop=True
    )


def _points(contribution: float) -> str:
    return f"{100 * contribution:+.1f} points"


def _evidence_rows(evidence_json: str, limit: int) -> tuple[list[dict[str, str]], int]:
    items = json.loads(evidence_json) if evidence_json else []
    rows = [
        {
            "agency": _AGENCY.get(str(i.get("source")), str(i.get("source"))),
            "record": i.get("record_pseudo") or f"member {i.get('person_key')}",
            "date": i.get("event_date") or "-",
            "type": str(i.get("event_type", "")).split(".", 1)[-1].replace("_", " "),
        }
        for i in items
    ]
    return rows[:limit], max(len(rows) - limit, 0)


def _waterfall_svg(
    reasons: pd.DataFrame, base: float, other: float, probability: float
) -> Markup | None:
    """A SHAP waterfall of one family's reasons on the calibrated scale the reasons use
    (percentage points from the typical family's indicator to this family's), as inline SVG:
    self-contained for printing, no file to lose (:mod:`safeguard.flags.waterfall` says why it is not
    drawn through matplotlib). Its numbers are the reasons' points listed beside it."""
    if reasons.empty or base != base:
        return None
    ordered = reasons.sort_values("reason_rank")
    names = [_short(t) for t in ordered["text"].astype(str)] + ["All other factors"]
    points = [100 * float(c) for c in ordered["contribution"]]
    points.append(100 * (other if other == other else 0.0))
    alt = (
        f"SHAP waterfall: from the typical family's {100 * base:.1f}% the reasons listed below "
        f"move the indicator to this family's {100 * probability:.0f}%"
    )
    return Markup(waterfall_svg(names, points, 100 * base, alt=alt))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _family_context(
    flag_id: str, flag: pd.Series, reasons: pd.DataFrame, config: CasePackConfig
) -> dict[str, Any]:
    shown: dict[str, list[dict[str, Any]]] = {"raised": [], "lowered": []}
    for r in reasons.sort_values("reason_rank").itertuples(index=False):
        evidence, more = _evidence_rows(r.evidence, config.max_evidence_rows)
        shown[str(r.direction)].append(
            {"text": r.text, "points": _points(r.contribution), "evidence": evidence, "more": more}
        )
    base = float(reasons["base_probability"].iloc[0]) if len(reasons) else float("nan")
    other = float(reasons["other_contribution"].iloc[0]) if len(reasons) else float("nan")
    district = flag["postcode_district"]
    waterfall = (
        _waterfall_svg(reasons, base, other, float(flag["probability"]))
        if config.waterfall
        else None
    )
    return {
        "waterfall": waterfall,
        "flag_id": flag_id,
        "family_key": flag["family_key"],
        "rank": int(flag["rank"]),
        "band": flag["band"],
        "probability_pct": f"{100 * float(flag['probability']):.0f}%",
        "base_pct": f"{100 * base:.1f}%" if base == base else "-",
        "other_points": _points(other) if other == other else "-",
        "district": district if isinstance(district, str) else "-",
        **shown,
    }


def write_case_packs(
    caseloads: pd.DataFrame,
    flags: pd.DataFrame,
    explanations: pd.DataFrame,
    workers: pd.DataFrame,
    out_dir: Path,
    *,
    model_version: str,
    as_of: date,
    config: CasePackConfig | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Write ``<worker_id>.html`` for every practitioner who receives flags; return the paths.

    A practitioner with no flags this run still gets a pack saying so. Only whitelisted,
    pseudonymous fields are rendered (family key, flag id, record pseudonyms, dates, event
    types, district), whatever other columns the inputs carry. Print to PDF from a browser:
    the page has A4 print CSS and keeps each family on one page where it fits.
    """
    config = config or CasePackConfig()
    _require(caseloads, "caseloads", CASELOAD_COLUMNS)
    _require(workers, "workers", ("worker_id", "role", "team"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template("case_pack.html.j2")
    by_flag = flags.assign(flag_id=flags["flag_id"].astype("string")).set_index("flag_id")
    reasons_of = {k: g for k, g in explanations.groupby(explanations["flag_id"].astype("string"))}
    empty = explanations.iloc[0:0]
    generated = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    out_dir.mkdir(parents=True, exist_ok=True)
    receivers = workers.loc[workers["role"].astype("string").isin(FLAG_ROLES)]
    paths = []
    for worker in receivers.sort_values("worker_id").itertuples(index=False):
        worker_id = str(worker.worker_id)
        if not _SAFE_NAME.fullmatch(worker_id):
            raise FlaggingInputError(
                f"workers: worker_id {worker_id!r} cannot name a file (letters, digits, . _ - only)"
            )
        mine = caseloads.loc[caseloads["worker_id"].astype("string") == worker_id]
        families = [
            _family_context(fid, by_flag.loc[fid], reasons_of.get(fid, empty), config)
            for fid in mine.sort_values("rank")["flag_id"].astype("string")
        ]
        html = template.render(
            worker={"worker_id": worker_id, "team": str(worker.team), "role": str(worker.role)},
            as_of=pd.Timestamp(as_of).date().isoformat(),
            model_version=model_version,
            generated=generated,
            statement=STATEMENT,
            families=families,
        )
        path = out_dir / f"{worker_id}.html"
        path.write_text(html, encoding="utf-8")
        paths.append(path)
    return paths
