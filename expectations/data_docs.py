"""GX Data Docs (static HTML) for reviewers, rendered from sanitised results only.

A fresh ephemeral context is used for every build, holding nothing but the sanitised results
(and the suites rebuilt from their configurations), so the site cannot show anything the
outcomes do not already carry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationSuiteValidationResultSchema,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

import safeguard.expectations.custom  # noqa: F401  (registers the custom expectation for rendering)
from safeguard.expectations.builders import expectation_from_config
from safeguard.expectations.outcome import SuiteOutcome, sanitise_result

SITE_NAME = "safeguard_reviewers"

OutcomeLike = SuiteOutcome | ExpectationSuiteValidationResult | Mapping[str, Any] | Path


class DataDocsError(ValueError):
    """An input to :func:`build_data_docs` cannot be rendered."""


def _sanitised(item: OutcomeLike) -> dict[str, Any]:
    if isinstance(item, SuiteOutcome):
        return dict(item.validation_result)
    if isinstance(item, ExpectationSuiteValidationResult):
        return sanitise_result(item.to_json_dict())
    if isinstance(item, Path):
        try:
            data = json.loads(item.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataDocsError(f"{item}: not a readable outcome JSON file ({exc})") from exc
        return _sanitised(SuiteOutcome.from_dict(data) if "validation_result" in data else data)
    # A raw GX result dict or SuiteOutcome.as_dict(): sanitise again, it is cheap and safe.
    if "validation_result" in item:
        return sanitise_result(item["validation_result"])
    return sanitise_result(item)


def build_data_docs(outcomes_or_results: Iterable[OutcomeLike], target_dir: Path) -> Path:
    """Render Data Docs for the given suite runs into ``target_dir``.

    Parameters
    ----------
    outcomes_or_results : iterable
        :class:`SuiteOutcome` objects, GX suite results, dicts from ``SuiteOutcome.as_dict()``,
        or paths to JSON files holding such dicts (what the asset checks write).
    target_dir : Path
        Site folder, e.g. ``<data-dir>/data_docs``; created if missing.

    Returns
    -------
    Path
        The site's ``index.html``.
    """
    results = [_sanitised(item) for item in outcomes_or_results]
    for res in results:
        if not res.get("results") or not res.get("suite_name"):
            raise DataDocsError("a result without expectations or suite_name cannot be rendered")
    target_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.enable_analytics(False)
    # SiteBuilder accepts show_how_to_buttons, but GX's TypedDict for the config omits it.
    site: Any = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,  # tutorial buttons mean nothing to a reviewer
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(target_dir.resolve()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context.add_data_docs_site(SITE_NAME, site)
    schema = ExpectationSuiteValidationResultSchema()
    for res in results:
        name = res["suite_name"]
        configs = [evr["expectation_config"] for evr in res["results"]]
        suite = gx.ExpectationSuite(
            name=name,
            expectations=[expectation_from_config(c) for c in configs],
        )
        if name in {s.name for s in context.suites.all()}:
            context.suites.delete(name)
        context.suites.add(suite)
        run_meta = res.get("meta", {}).get("run_id") or {}
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=name),
            run_id=RunIdentifier(
                run_name=run_meta.get("run_name"), run_time=run_meta.get("run_time")
            ),
            batch_identifier=name,
        )
        context.validation_results_store.set(key, schema.load(res))
    built = context.build_data_docs(site_names=[SITE_NAME])
    index = target_dir / "index.html"
    if not index.is_file():
        raise DataDocsError(f"GX reported {built} but {index} was not written")
    return index
