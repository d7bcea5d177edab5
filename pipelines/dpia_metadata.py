"""Attach the DPIA register's record to every asset and check, once, at the root.

Loading the code location fails if any asset has no record in the register: an asset
nobody has assessed must not run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import dagster as dg

from safeguard.dpia.register import DpiaRegister, load_register
from safeguard.governance.profile import GovernanceProfile, load_profile
from safeguard.settings import raw_setting


def _configured(name: str) -> Path | None:
    """A file named by a setting (``safeguard/settings.py``), or None for the packaged one."""
    value = raw_setting(name)
    return Path(value) if value else None


@cache
def register() -> DpiaRegister:
    """The DPIA register in use: the ``dpia_register`` setting, else the packaged YAML."""
    return load_register(_configured("dpia_register"))


@cache
def governance_profile() -> GovernanceProfile:
    """The governance profile in use: the ``governance_profile`` setting, else the packaged one."""
    return load_profile(_configured("governance_profile"))


def with_dpia_metadata(
    assets: Sequence[dg.AssetsDefinition | dg.AssetSpec], reg: DpiaRegister | None = None
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Return ``assets`` with each spec carrying its ``dpia/*`` definition metadata."""
    reg = reg or register()

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.merge_attributes(metadata=reg.asset_metadata(spec.key.path[-1]))

    return list(dg.map_asset_specs(attach, assets))


def dpia_check_spec(
    name: str,
    asset: str,
    description: str,
    *,
    blocking: bool = True,
    reg: DpiaRegister | None = None,
) -> dg.AssetCheckSpec:
    """A check spec that carries the DPIA record of the asset it checks."""
    reg = reg or register()
    metadata = reg.check_metadata(asset, name)
    return dg.AssetCheckSpec(
        name, asset=asset, description=description, blocking=blocking, metadata=metadata
    )


def summary_metadata(summary: dict) -> dict:
    """Runtime metadata from a domain object's aggregate ``summary()``: scalars as they are,
    anything nested as (truncated) JSON text. Summaries hold aggregates only, never a row."""
    out: dict = {}
    for key, value in summary.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        elif value is None:
            out[key] = "none"
        else:
            out[key] = json.dumps(value, default=str)[:2000]
    return out
