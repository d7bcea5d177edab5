"""Session-wide runs of the pipeline tests, shared by the modules that only read them.

A pipeline run costs about half a minute of CI time even on a small estate, most of it fixed
(Dagster, Splink's training, the model, the reports), so a run that several modules can start
from is made once: the template is never written to; a module that writes copies it first
(``data_dirs.copy_data_dir``, which adopts the copy's audit trail as an operator must).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lax_council import LAX
from small_estate import PEOPLE, plant_prohibited_marker

from pipelines.runner import RunOutcome, run_pipeline
from synth import EstateConfig, generate_estate


@pytest.fixture(scope="session")
def small_estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Landing and truth folders of a 3,000-person estate with a month of history, a unique
    marker planted in every prohibited cell of the newest police file. Shared: a test that adds
    a drop removes it again."""
    root = tmp_path_factory.mktemp("estate")
    landing, truth = root / "landing", root / "truth"
    generate_estate(
        EstateConfig(people=PEOPLE, seed=11, history_months=1), out=landing, truth_out=truth
    )
    newest = sorted(p for p in landing.iterdir() if p.is_dir())[-1]
    plant_prohibited_marker(newest)
    return landing, truth


@pytest.fixture(scope="session")
def lax_run_template(
    small_estate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> RunOutcome:
    """One run of ``small_estate`` with ground truth and the council's lax performance
    thresholds, so a small estate gets flags. Never written to: use ``data_dirs.copy_of_run``."""
    landing, truth = small_estate
    return run_pipeline(
        landing=landing, data_dir=tmp_path_factory.mktemp("lax-run"), truth_dir=truth, council=LAX
    )
