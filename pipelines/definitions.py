"""The Dagster code location: every asset, check and resource of safeguard.

`dagster dev -m safeguard.pipelines.definitions` loads `defs`; `safeguard run` builds the same
Definitions with explicit settings. The wiring holds no logic: see the domain packages.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from safeguard.contracts.council import CouncilConfig, load_config
from safeguard.contracts.layout import DataDir
from safeguard.dpia.private_files import secure_data_dir
from safeguard.pipelines.assets.flags import score_and_flag
from safeguard.pipelines.assets.governance import governance_reports
from safeguard.pipelines.assets.history import family_scores_history, history_job
from safeguard.pipelines.assets.ingest import ingest_drop, landing_specs
from safeguard.pipelines.assets.linkage import (
    families,
    family_snapshots,
    link_records,
    people,
    protected_characteristics,
)
from safeguard.pipelines.assets.model import (
    events,
    family_features,
    train_and_gate_model,
    training_frame,
)
from safeguard.pipelines.assets.monitoring import monitor_model, monitoring_job
from safeguard.pipelines.catalogue import with_catalogue
from safeguard.pipelines.checks.ingest import data_docs, gx_checks
from safeguard.pipelines.checks.objections import objections_gx_suite
from safeguard.pipelines.dpia_metadata import register, with_dpia_metadata
from safeguard.pipelines.lineage import LocationGraph, graph_specs, lineage_nodes_of, nodes_to_json
from safeguard.pipelines.operations import (
    alert_on_failed_run,
    governance_after_failure,
    governance_after_success,
    governance_job,
    late_drop_sensor,
    monthly_scoring_schedule,
    new_drop_sensor,
    pipeline_job,
    retention_purge_job,
    retention_purge_schedule,
)
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse
from safeguard.pipelines.run_context import parse_as_of
from safeguard.settings import SafeguardSettings, raw_setting


def scaffolded() -> dg.Definitions:
    """What ``dg scaffold defs`` added under ``pipelines/defs/`` (empty until someone does)."""
    folder = Path(__file__).with_name("defs")
    added = [p for p in folder.iterdir() if p.name not in ("__init__.py", "__pycache__")]
    if not added:  # nothing scaffolded: no project configuration needed (installed package)
        return dg.Definitions()
    # by its import name: dg's root_module names the folder (pipelines/), not the import path
    from safeguard.pipelines import defs

    return dg.ComponentTree.from_module(defs, project_root=Path(__file__).parents[1]).build_defs()


def all_assets(extra: dg.Definitions | None = None) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    assets = with_dpia_metadata(
        [
            *landing_specs,
            ingest_drop,
            data_docs,
            link_records,
            people,
            protected_characteristics,
            families,
            family_snapshots,
            events,
            family_features,
            training_frame,
            train_and_gate_model,
            score_and_flag,
            family_scores_history,
            monitor_model,
            governance_reports,
            *((extra.assets or []) if extra else []),
        ]
    )
    return with_catalogue(assets, register())


def all_checks(extra: dg.Definitions | None = None) -> list[dg.AssetChecksDefinition]:
    return [*gx_checks, objections_gx_suite, *((extra.asset_checks or []) if extra else [])]


def build_definitions(
    *,
    data_dir: str,
    landing_dir: str,
    truth_dir: str | None = None,
    as_of: str | None = None,
    council: CouncilConfig | None = None,
    council_source: str = "default council.yaml",
) -> dg.Definitions:
    """Definitions bound to one data directory, landing folder and council configuration.

    Loading them makes this process's new files owner-only and tightens an existing data
    directory (0700/0600), so `dagster dev` and the CLI never leave personal data readable.
    """
    parse_as_of(as_of)  # a malformed date is refused when the definitions load, not mid-run
    secure_data_dir(Path(data_dir))
    extra = scaffolded()
    assets, checks = all_assets(extra), all_checks(extra)
    specs, check_keys = graph_specs([*assets, *checks])
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources={
            "graph": LocationGraph(
                lineage_json=nodes_to_json(lineage_nodes_of(specs).values()),
                checks_json=json.dumps(
                    [f"{k.asset_key.to_user_string()}/{k.name}" for k in check_keys]
                ),
            ),
            "warehouse": Warehouse(data_dir=data_dir),
            "settings": RunSettings(landing_dir=landing_dir, truth_dir=truth_dir, as_of=as_of),
            "council": CouncilSettings.from_config(council or load_config(None), council_source),
        },
        jobs=[
            pipeline_job,
            governance_job,
            retention_purge_job,
            history_job,
            monitoring_job,
            *(extra.jobs or []),
        ],
        schedules=[monthly_scoring_schedule, retention_purge_schedule, *(extra.schedules or [])],
        sensors=[
            new_drop_sensor,
            governance_after_success,
            governance_after_failure,
            alert_on_failed_run,
            late_drop_sensor,
            *(extra.sensors or []),
        ],
        executor=dg.in_process_executor,
    )


def definitions_from_settings() -> dg.Definitions:
    """The code location that ``dagster dev``, the webserver and the daemon load.

    Its resources (warehouse, run settings, council) are fed from the one settings model,
    ``safeguard/settings.py``: ``SAFEGUARD_*`` variables, then the optional settings file, then
    the model's defaults (``data``, ``DATA/landing``, the shipped council file). Each value is
    read on its own (:func:`safeguard.settings.raw_setting`) so that a bad setting of another
    process (a portal one) cannot stop the code location; the as-of date is validated by
    :func:`build_definitions` and the council file by :func:`load_config`, and
    ``python -m safeguard.settings`` validates everything at a service's start-up.
    """
    data_dir = raw_setting("data_dir") or str(SafeguardSettings.model_fields["data_dir"].default)
    config = raw_setting("config") or None
    return build_definitions(
        data_dir=data_dir,
        landing_dir=raw_setting("landing") or str(DataDir(Path(data_dir)).landing),
        truth_dir=raw_setting("truth_dir") or None,
        as_of=raw_setting("as_of") or None,
        council=load_config(config),
        council_source=config or "default council.yaml",
    )


defs = definitions_from_settings()
