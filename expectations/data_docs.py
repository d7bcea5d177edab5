"""GX Data Docs (static HTML) for reviewers, rendered from sanitised results only.

A fresh ephemeral context is used for every build, holding nothing but the sanitised results
(and the suites rebuilt from their configurations), so the site cannot show anything the
outcomes do not already carry.
"""

from __future__ import annotations

import html
import json
import os
import re
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
#: Our stylesheet for the site, in place of GX's CDN-hosted Bootstrap (site-relative path).
OFFLINE_CSS = "static/styles/safeguard_offline.css"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.I | re.S)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>\s*", re.I)
_ICON_LINK = re.compile(r"<link\b[^>]*\brel=[\"']shortcut icon[\"'][^>]*>\s*", re.I)
_REMOTE_IMG = re.compile(r"<img\b[^>]*\bsrc=[\"']https?://[^>]*>", re.I)
_REMOTE_CSS_URL = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.I)
_OFFLINE_STYLES = """/* Safeguard: GX Data Docs without a network (no CDN Bootstrap, no scripts). */
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem;
       color: #1b1b1b; background: #fff; line-height: 1.45; }
nav, .navbar { padding: .5rem 0; border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
a { color: #1d4f91; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: .5rem 1rem; margin: .75rem 0; }
.collapse:not(.show) { display: block; }
.text-danger, .fa-times { color: #a4000f; }
.text-success, .fa-check-circle { color: #00703c; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #eee; }
.d-none, .sr-only { display: none; }
ul.nav { list-style: none; padding-left: 0; }
"""

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
    make_offline(target_dir)
    return index


def _site_listing(target_dir: Path) -> str:
    """A plain HTML list of the site's pages: GX's own index draws its table with scripts."""
    rows = []
    for page in sorted((target_dir / "validations").rglob("*.html")):
        rel = page.relative_to(target_dir).as_posix()
        run = page.parent.name
        rows.append(
            f'<tr><td><a href="{html.escape(rel)}">{html.escape(page.stem)}</a></td>'
            f"<td>validation result</td><td>{html.escape(run)}</td></tr>"
        )
    for page in sorted((target_dir / "expectations").rglob("*.html")):
        rel = page.relative_to(target_dir).as_posix()
        rows.append(
            f'<tr><td><a href="{html.escape(rel)}">{html.escape(page.stem)}</a></td>'
            "<td>expectation suite</td><td></td></tr>"
        )
    return (
        '<section id="safeguard-site-index"><h1>Data quality checks (GX Data Docs)</h1>'
        "<table><caption>Every validation result and expectation suite of this run</caption>"
        '<thead><tr><th scope="col">Table</th><th scope="col">Page</th>'
        '<th scope="col">Run</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></section>"
    )


def make_offline(target_dir: Path) -> None:
    """Make the site render with no network and no script (councils' networks often have none).

    GX pages load Bootstrap, Font Awesome, jQuery and Vega from CDNs and build the index table
    with script. Every remote stylesheet, script and image is removed, a local stylesheet
    (:data:`OFFLINE_CSS`) is linked from every page, and the index gets a plain table of the
    site's pages, so the site reads the same from the files, inside the portal (whose policy
    runs no script) and on a network without internet access.
    """
    css = target_dir / OFFLINE_CSS
    css.parent.mkdir(parents=True, exist_ok=True)
    css.write_text(_OFFLINE_STYLES, encoding="utf-8")
    for sheet in (target_dir / "static" / "styles").glob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        sheet.write_text(_REMOTE_CSS_URL.sub("none", text), encoding="utf-8")
    index = target_dir / "index.html"
    for page in target_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for pattern in (_SCRIPT, _REMOTE_LINK, _ICON_LINK, _REMOTE_IMG):
            text = pattern.sub("", text)
        href = os.path.relpath(css, page.parent).replace(os.sep, "/")
        text = text.replace("</head>", f'<link rel="stylesheet" href="{href}"/>\n</head>', 1)
        if page == index:
            text = re.sub(
                r"(<body\b[^>]*>)", lambda m: m.group(1) + _site_listing(target_dir), text, count=1
            )
        page.write_text(text, encoding="utf-8")
