"""Synthetic multi-agency estate generator: an independent producer of landing drops.

Public API::

    from safeguard.synth import EstateConfig, RecordingBias, generate_estate, EstateSummary
    summary = generate_estate(EstateConfig(people=20_000, seed=7), out=Path("landing"),
                              truth_out=Path("truth"))

See ``synth/README.md`` for what the estate contains and where its figures come from.
"""

from safeguard.synth.config import ConfigError, EstateConfig, RecordingBias
from safeguard.synth.estate import generate_estate
from safeguard.synth.summary import EstateSummary

__all__ = ["ConfigError", "EstateConfig", "EstateSummary", "RecordingBias", "generate_estate"]
