"""Point-in-time family features: the events table, the feature dictionary, family features at
as-of dates, outcome labels and the training frame, and (separately) audit-only protected
characteristics. Pure pandas/DuckDB functions (no dagster)."""

from safeguard.features.build import build_family_features, build_family_features_many
from safeguard.features.dictionary import (
    FEATURE_DICTIONARY,
    FEATURE_NAMES,
    PROTECTED_COLUMNS,
    FeatureSpec,
    ProtectedFeatureError,
    assert_no_protected,
)
from safeguard.features.events import build_events
from safeguard.features.outcomes import (
    TimeSplit,
    build_training_frame,
    open_to_social_care,
    time_ordered_split,
)
from safeguard.features.protected import build_sensitive_features

__all__ = [
    "FEATURE_DICTIONARY",
    "FEATURE_NAMES",
    "PROTECTED_COLUMNS",
    "FeatureSpec",
    "ProtectedFeatureError",
    "TimeSplit",
    "assert_no_protected",
    "build_events",
    "build_family_features",
    "build_family_features_many",
    "build_sensitive_features",
    "build_training_frame",
    "open_to_social_care",
    "time_ordered_split",
]
