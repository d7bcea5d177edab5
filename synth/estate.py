"""Generate a synthetic multi-agency estate: simulate the world, record it the way each agency
would, write one drop per extract date, and (separately, only when asked) the ground truth.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from safeguard.synth import (
    benefits,
    education,
    harm,
    housing,
    malformed,
    police,
    reference,
    social_care,
    tables,
    truth,
)
from safeguard.synth.build import World, build_world
from safeguard.synth.config import ConfigError, EstateConfig
from safeguard.synth.events import Events
from safeguard.synth.measure import base_rates, compare
from safeguard.synth.summary import EstateSummary
from safeguard.synth.timeline import Timeline, day_number
from safeguard.synth.writer import TruthSink, write_file

_STREAMS = ("population", "geography", "births", "dynamics", "police", "social_care", "education",
            "housing", "benefits", "registry", "malformed", "reference", "data_loss", "harm")  # fmt: skip
#: Share of police rows lost from the newest extract in the ``data-loss`` scenario (the 2021
#: Police National Computer deletion lost ~400k records).
DATA_LOSS_SHARE = 0.4
FILE_ORDER = (
    "social_care",
    "education",
    "housing",
    "police",
    "revenues_benefits",
    "workers",
    "objections",
    "areas",
)


def _check_paths(out: Path, truth_out: Path | None) -> None:
    if truth_out is None:
        return
    a, b = out.resolve(), truth_out.resolve()
    if a == b or b.is_relative_to(a) or a.is_relative_to(b):
        raise ConfigError(
            f"truth_out {truth_out} must be outside the landing directory {out} (and not contain it)"
        )


class _Stages:
    """A rich progress bar, or nothing."""

    def __init__(self, enabled: bool, months: int) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), disable=not enabled)  # fmt: skip
        self.months = self.progress.add_task("simulating months", total=months)
        self.agencies = self.progress.add_task("recording agencies", total=6)
        self.rows = self.progress.add_task("writing rows", total=None)

    def month(self, _: int) -> None:
        self.progress.advance(self.months)

    def step(self) -> None:
        self.progress.advance(self.agencies)


def generate_estate(config: EstateConfig, out: Path, truth_out: Path | None = None, *,
                    progress: bool = False) -> EstateSummary:  # fmt: skip
    """Write the estate's drops under ``out`` and, if ``truth_out`` is given, its ground truth.

    Parameters
    ----------
    config
        What to generate; the same config writes byte-identical files.
    out
        Landing directory: ``<out>/<YYYY-MM-DD>/<file>.csv`` per extract date.
    truth_out
        Ground-truth directory, outside ``out``. ``None`` writes no truth at all.
    progress
        Show a rich progress bar.
    """
    started = time.perf_counter()
    out, truth_out = Path(out), Path(truth_out) if truth_out is not None else None
    _check_paths(out, truth_out)
    timeline = Timeline.build(config.extract_date, config.history_months)
    seeds = np.random.SeedSequence(config.seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    stages = _Stages(progress, timeline.n_months)
    with stages.progress:
        world = build_world(config.people, config.councils, timeline, rng, on_month=stages.month)
        built, care, harm_events = _record(world, config, rng, stages)
        sink = TruthSink.open(truth_out)
        try:
            rows = _write_drops(world, config, built, out, sink, rng["data_loss"], stages)
        finally:
            sink.close()
    if truth_out is not None:
        _write_truth(world, config, care, harm_events, out, truth_out)
    return _summary(world, config, rows, out, truth_out, time.perf_counter() - started)


def _record(world: World, config: EstateConfig, rng: dict[str, np.random.Generator],
            stages: _Stages) -> tuple[dict[str, tuple], social_care.SocialCare, Events]:  # fmt: skip
    """Draw every agency's events and build its file (with planted malformed rows); return the
    built files, the social-care simulation (episodes and true hazards) and the true harm."""
    tl, bias = world.timeline, config.recording_bias
    window = (tl.newest_day, tl.window_start(tl.extracts[0]))
    da, da_counts = police.domestic_abuse(rng["police"], world)
    involvements = police.person_involvements(rng["police"], world, bias)
    stages.step()
    harm_events = harm.simulate(rng["harm"], world)
    care = social_care.simulate(rng["social_care"], world, da_counts, bias, harm_events,
                                hazard_from=int(tl.month_of(np.array([window[1]]))[0]))  # fmt: skip
    episodes = care.episodes
    lac = episodes.select(episodes.fields["etype"] == social_care.E["looked_after"])
    missing = police.missing_from_care(rng["police"], lac, world)
    stages.step()
    edu_table, upn_of = tables.education_table(
        rng["registry"], world, education.simulate(rng["education"], world, window[1]), window
    )
    stages.step()
    built_tables = {
        "social_care": tables.social_care_table(rng["registry"], world, episodes, window, upn_of),
        "education": edu_table,
        "housing": tables.housing_table(rng["registry"], world, housing.simulate(rng["housing"], world), window),
        "police": tables.police_table(rng["registry"], world, Events.concat([involvements, da, missing]), window),
        "revenues_benefits": tables.benefits_table(rng["registry"], world, benefits.simulate(rng["benefits"], world, window[1]), window),
    }  # fmt: skip
    stages.step()
    built: dict[str, tuple] = {}
    for name, table in built_tables.items():
        built[name] = (table, malformed.plant(rng["malformed"], table))
    stages.step()
    built["workers"] = (reference.workers_table(rng["reference"], world), None)
    built["objections"] = (reference.objections_table(rng["reference"], world), None)
    built["areas"] = (reference.areas_table(world), None)
    stages.step()
    return built, care, harm_events


def _write_drops(world: World, config: EstateConfig, built: dict[str, tuple], out: Path, sink: TruthSink,
                 rng: np.random.Generator, stages: _Stages) -> dict[str, int]:  # fmt: skip
    tl = world.timeline
    police_table = built["police"][0]
    lost = rng.random(police_table.n) < DATA_LOSS_SHARE
    plan = []
    for extract in tl.extracts:
        e_day, w_day = day_number(extract), tl.window_start(extract)
        for name in FILE_ORDER:
            keep = built[name][0].rows_for(e_day, w_day)
            if name == "police" and config.scenario == "data-loss" and extract == tl.newest:
                keep = keep[~lost[keep]]
            plan.append((extract, name, keep))
    stages.progress.update(stages.rows, total=sum(len(k) for _, _, k in plan))
    rows: dict[str, int] = {}
    for extract, name, keep in plan:
        folder = out / extract.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        table, planted = built[name]
        rows[f"{name}.csv"] = write_file(folder / f"{name}.csv", table, keep, extract, sink, planted,
                                         tick=lambda k: stages.progress.advance(stages.rows, k))  # fmt: skip
    return rows


def _write_truth(world: World, config: EstateConfig, care: social_care.SocialCare, harm_events: Events,
                 out: Path, truth_out: Path) -> None:  # fmt: skip
    truth.write_people(truth_out, world)
    truth.write_families(truth_out, world)
    truth.write_memberships(truth_out, world)
    truth.write_outcomes(truth_out, world, care.episodes)
    truth.write_hazards(truth_out, world, care)
    truth.write_harm(truth_out, world, harm_events, care.harm_referred)
    truth.write_addresses(truth_out, world)
    extracts = [d.isoformat() for d in world.timeline.extracts]
    truth.write_parameters(truth_out, config, extracts)
    measured = base_rates(out / extracts[-1], truth_out)
    truth.write_json(
        truth_out, "base_rates.json", {"extract_date": extracts[-1], "figures": compare(measured)}
    )


def _summary(world: World, config: EstateConfig, rows: dict[str, int], out: Path, truth_out: Path | None,
             seconds: float) -> EstateSummary:  # fmt: skip
    h, p = world.history, world.people
    fam = h.family_of[-1]
    age = (world.timeline.newest_day - p.dob) / 365.25
    kids = age < 18
    return EstateSummary(
        people=config.people,
        households=int(np.unique(fam[fam >= 0]).size),
        families_with_children=int(np.unique(fam[kids & (fam >= 0)]).size),
        children=int(kids.sum()),
        extract_dates=world.timeline.extracts,
        rows=tuple((f"{name}.csv", rows[f"{name}.csv"]) for name in FILE_ORDER),
        out=out,
        truth_out=truth_out,
        seconds=seconds,
    )
