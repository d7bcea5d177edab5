"""The operating threshold and gate tolerances: defaults written once, fed by the council file."""

from __future__ import annotations

import dataclasses

from safeguard.contracts.council import CouncilConfig, load_config, parse_config
from safeguard.contracts.gates import DEFAULT_GATES, DEFAULT_THRESHOLD, GateSettings
from safeguard.flags.flagging import FlagConfig
from safeguard.models import PerformanceGate
from safeguard.models.fairness import FairnessConfig
from safeguard.models.fairness_gate import FairnessGate
from safeguard.pipelines import council as council_settings


def test_the_shipped_council_file_states_the_defaults() -> None:
    # council.yaml documents every default; it must not drift from safeguard.contracts.gates
    assert load_config().gates() == DEFAULT_GATES
    assert CouncilConfig().gates() == DEFAULT_GATES


def _default(cls: type, name: str) -> object:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def test_model_defaults_are_the_one_set() -> None:
    perf, fair = DEFAULT_GATES.performance, DEFAULT_GATES.fairness
    gate = PerformanceGate()
    assert {f.name: getattr(gate, f.name) for f in dataclasses.fields(perf)} == (
        dataclasses.asdict(perf)
    )
    fgate = FairnessGate()
    shared = set(dataclasses.asdict(fair)) - {"max_leakage_share"}
    assert {n: getattr(fgate, n) for n in shared} == {n: getattr(fair, n) for n in shared}
    assert _default(FairnessConfig, "max_leakage_share") == fair.max_leakage_share
    assert _default(FairnessConfig, "threshold") == DEFAULT_THRESHOLD
    assert _default(FlagConfig, "threshold_probability") == DEFAULT_THRESHOLD
    assert DEFAULT_GATES.threshold == DEFAULT_THRESHOLD


def test_a_council_file_reaches_the_typed_settings_and_the_gates() -> None:
    config = parse_config(
        "version: 1\nflagging: {threshold: 0.1}\n"
        "performance_gate: {min_precision_lift: 2.5, calibration_band: [0.8, 1.25]}\n"
        "fairness_gate: {band: [0.75, 1.33], max_leakage_share: 0.02}\n"
    )
    gates = config.gates()
    assert isinstance(gates, GateSettings)
    assert gates.threshold == 0.1
    assert gates.performance.min_precision_lift == 2.5
    assert gates.performance.slope_band == DEFAULT_GATES.performance.slope_band  # untouched
    assert gates.fairness.band == (0.75, 1.33) and gates.fairness.max_leakage_share == 0.02
    assert council_settings.performance_gate(config).calibration_band == (0.8, 1.25)
    assert council_settings.fairness_gate(config).band == (0.75, 1.33)
