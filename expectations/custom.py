"""The one custom expectation we need: counts stored as floats must still be whole numbers.

GX 1.24 has no core expectation for "integer-valued"; its type checks cannot tell 3.0 from 3.5.
Defining the classes registers them with GX (its registry is filled on class creation), so
importing this module is enough. Pandas only: the warehouse is read into pandas for validation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

WHOLE_NUMBER_METRIC = "column_values.safeguard_whole_number"


class ColumnValuesWholeNumber(ColumnMapMetricProvider):
    """Row condition: the value has no fractional part (vectorised, nulls excluded by GX)."""

    condition_metric_name = WHOLE_NUMBER_METRIC

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return (column % 1) == 0


class ExpectColumnValuesToBeWholeNumbers(ColumnMapExpectation):
    """Expect every non-null value in a numeric column to be a whole number (e.g. 3 or 3.0)."""

    map_metric = WHOLE_NUMBER_METRIC
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
