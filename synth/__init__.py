"""Synthetic multi-agency estate generator: an independent producer of landing drops.

Public API::

    from synth import EstateConfig, RecordingBias, generate_estate, EstateSummary
    summary = generate_estate(EstateConfig(people=20_000, seed=7), out=Path("landing"),
                              truth_out=Path("truth"))

See ``synth/README.md`` for what the estate contains and where its figures come from.
"""

from synth.config import ConfigError, EstateConfig, RecordingBias
from synth.estate import generate_estate
from synth.summary import EstateSummary

__all__ = ["ConfigError", "EstateConfig", "EstateSummary", "RecordingBias", "generate_estate"]
