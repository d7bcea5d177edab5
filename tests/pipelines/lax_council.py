"""A council configuration with lax performance thresholds, so that a small test estate gets flags.

A council's choice, never a default: the small estates of the end-to-end tests hold too few
outcomes for the default performance gate; the fairness gate is left as shipped.
"""

from __future__ import annotations

from safeguard.contracts.council import parse_config

LAX = parse_config(
    "flagging:\n  threshold: 0.01\n"
    "performance_gate:\n  min_precision_lift: 0\n  calibration_band: [0.01, 100]\n"
    "  slope_band: [-100, 100]\n",
    "lax test configuration",
)
