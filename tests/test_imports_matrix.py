"""The allowed imports between our packages, and the layers of pipelines/ (docs/DESIGN.md).

The matrix is the one documented in ``docs/DESIGN.md`` ("Packages") and the shared
architecture notes: lower packages never reach up, ``linkage`` and ``synth`` import nothing of
ours, only ``pipelines`` imports dagster. Imports are read with ``ast`` (every import, those
inside functions too; only ``if TYPE_CHECKING:`` blocks are left out, as they never run).
Known drifts are listed with the issue that removes them: the list must match exactly, so it
can only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "dpia", "contracts", "warehouse", "ingest", "linkage", "expectations", "features", "models", "flags", "monitoring",
    "governance", "portal", "synth", "pipelines", "safeguard",
)  # fmt: skip

# package -> the packages of ours it may import (docs/DESIGN.md, "Packages")
ALLOWED: dict[str, frozenset[str]] = {
    "dpia": frozenset(),
    # the shared typed definitions (landing contract): everyone but linkage and synth may use them
    "contracts": frozenset({"dpia"}),
    # the storage engine under the pipeline's Warehouse resource and the admin commands
    "warehouse": frozenset({"contracts"}),
    "ingest": frozenset({"dpia", "contracts"}),
    "linkage": frozenset(),
    "expectations": frozenset({"dpia", "contracts", "ingest"}),
    "features": frozenset({"dpia", "contracts"}),
    "models": frozenset({"features", "dpia", "contracts"}),
    "flags": frozenset({"models", "features", "dpia", "contracts"}),
    "monitoring": frozenset({"features", "models", "dpia", "contracts"}),
    "governance": frozenset({"dpia", "contracts", "linkage"}),
    "portal": frozenset({"dpia", "contracts"}),
    "synth": frozenset(),
    "pipelines": frozenset(PACKAGES) - {"pipelines", "safeguard", "portal", "synth"},
    "safeguard": frozenset(PACKAGES) - {"safeguard"},
}
# one module of a package the matrix otherwise forbids, each with its reason (docs/DESIGN.md)
NARROW: dict[str, frozenset[str]] = {
    # the pipeline publishes the portal's serving snapshot at the end of a run; the module
    # holds the publish function and the snapshot format only (no web code)
    # the code location feeds its resources from the one settings model (safeguard.settings
    # imports nothing of ours but safeguard.contracts.layout and safeguard.dpia.audit_anchor; see docs/DESIGN.md, "Settings"), reads the
    # practitioners' judgements for monitoring through safeguard.portal.records, and tells the data team
    # of a failed gate, run or sensor, or a late drop (safeguard.alerts imports safeguard.settings)
    "pipelines": frozenset(
        {
            "safeguard.portal.snapshot",
            "safeguard.portal.records",
            "safeguard.settings",
            "safeguard.alerts",
        }
    ),
    # governance reads, purges and re-keys the portal database only through safeguard.portal.records,
    # whatever its backend (SQLite, PostgreSQL, DuckDB), and republishes the serving snapshot
    # after a purge or key rotation (safeguard.portal.snapshot); no web code
    "governance": frozenset({"safeguard.portal.records", "safeguard.portal.snapshot"}),
    # the portal validates the one settings model at start-up and logs as the command line
    # does (safeguard.settings and safeguard.logs import nothing of ours but safeguard.contracts.layout)
    "portal": frozenset({"safeguard.settings", "safeguard.logs"}),
}
# third-party frameworks confined to one package
CONFINED = {"dagster": "pipelines", "dagster_duckdb": "pipelines", "splink": "linkage"}
# (file, module) imports the matrix forbids today, each with the issue that removes it (the
# list must match exactly, so it can only shrink; issue 15 emptied it)
KNOWN_DRIFT: set[tuple[str, str]] = set()


def runtime_imports(path: Path, *, names: bool = False) -> Iterator[tuple[str, int]]:
    """Every module imported by ``path`` (absolute names), with its line; TYPE_CHECKING left out.

    With ``names``, ``from a import b`` also yields ``a.b`` (``b`` may be a module).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "safeguard" and node.level == 0:
            # `from safeguard import linkage` imports the package safeguard.linkage
            for alias in node.names:
                yield (
                    f"safeguard.{alias.name}" if alias.name in PACKAGES else "safeguard",
                    node.lineno,
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names if names else ():
                yield f"{node.module}.{alias.name}", node.lineno


def package_of(module: str) -> str:
    """The package of ours (or the third-party root) a module belongs to: every package of ours
    is imported as ``safeguard.<package>``; ``safeguard`` alone is the command line's package."""
    parts = module.split(".")
    if parts[0] == "safeguard" and len(parts) > 1 and parts[1] in PACKAGES:
        return parts[1]
    return parts[0]


def bare_imports(path: Path) -> set[str]:
    """Imports of a package of ours by its bare name (``pipelines.x``, not ``safeguard.pipelines.x``):
    an installed safeguard has only the ``safeguard`` name (run tools/namespace.py)."""
    ours = set(PACKAGES) - {"safeguard"}
    return {m for m, _ in runtime_imports(path) if m.split(".")[0] in ours}


def _files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py")) if (REPO / package).is_dir() else []


def file_violations(package: str, rel: str, path: Path) -> set[tuple[str, str]]:
    """(file, imported module) pairs of one file of ``package`` that the matrix forbids."""
    found = set()
    for module, _ in runtime_imports(path):
        root = package_of(module)
        narrow = module in NARROW.get(package, ()) or any(
            module.startswith(f"{m}.") for m in NARROW.get(package, ())
        )
        if root in ALLOWED and root != package and root not in ALLOWED[package] and not narrow:
            found.add((rel, root))
        if root in CONFINED and CONFINED[root] != package:
            found.add((rel, root))
        # linkage is used through its public package only (linkage/__init__.py): a module
        # inside it (safeguard.linkage.model, safeguard.linkage.standardise, ...) is its own business
        if package != "linkage" and root == "linkage" and module != "safeguard.linkage":
            found.add((rel, module))
    return found


def matrix_violations(package: str) -> set[tuple[str, str]]:
    """(file, imported module) pairs of ``package`` that the matrix or a confinement forbids."""
    found = set()
    for path in _files(package):
        found |= file_violations(package, path.relative_to(REPO).as_posix(), path)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_the_matrix_allows(package: str) -> None:
    found = matrix_violations(package)
    drift = {pair for pair in KNOWN_DRIFT if pair[0].startswith(f"{package}/")}
    assert found - drift == set(), f"{package} imports outside docs/DESIGN.md's matrix"
    assert drift - found == set(), "a known drift was fixed: remove it from KNOWN_DRIFT"


def test_the_matrix_scan_catches_a_forbidden_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\nimport safeguard.flags.flagging\n"
        "if TYPE_CHECKING:\n    from safeguard import pipelines\n"
        "def late():\n    from dagster import asset\n"
    )
    modules = {m for m, _ in runtime_imports(probe, names=True)}
    assert {"safeguard.flags.flagging", "dagster", "dagster.asset"} <= modules
    assert "safeguard.pipelines" not in modules  # never runs
    assert package_of("safeguard.flags.flagging") == "flags"
    assert package_of("safeguard.settings") == "safeguard"


def test_no_module_imports_a_package_of_ours_by_its_bare_name(tmp_path: Path) -> None:
    folders = [*PACKAGES, "tests", "bench", "tools"]
    offenders = {
        p.relative_to(REPO).as_posix(): sorted(found)
        for folder in folders
        for p in _files(folder)
        if (found := bare_imports(p))
    }
    assert offenders == {}, "import these as safeguard.<package> (tools/namespace.py)"
    probe = tmp_path / "probe.py"
    bare = "features" + ".build"  # in two strings, so that tools/namespace.py leaves it alone
    probe.write_text(f"import os\nfrom safeguard.models import x\nfrom {bare} import y\n")
    assert bare_imports(probe) == {bare}


@pytest.mark.parametrize("package", ["governance", "pipelines", "safeguard"])
def test_splink_and_linkage_internals_are_refused_outside_linkage(
    package: str, tmp_path: Path
) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from safeguard.linkage import match_records\nfrom safeguard import linkage\n"
        "def late():\n    from safeguard.linkage.model import MODEL_COLUMNS\n    from splink import Linker\n"
    )
    assert file_violations(package, "probe.py", probe) == {
        ("probe.py", "safeguard.linkage.model"),
        ("probe.py", "splink"),
    }
    assert file_violations("linkage", "probe.py", probe) == set()


# ---- pipelines/: four layers, no cycle, no asset module importing another ----------------

LAYERS = {
    # 1 foundation: plain modules the definitions use (acyclic among themselves)
    "safeguard.pipelines.layout": 1, "safeguard.pipelines.council": 1,
    "safeguard.pipelines.dpia_metadata": 1, "safeguard.pipelines.lineage": 1, "safeguard.pipelines.instance": 1,
    "safeguard.pipelines.validation": 1, "safeguard.pipelines.resources": 1, "safeguard.pipelines.readers": 1,
    "safeguard.pipelines.release": 1, "safeguard.pipelines.run_context": 1, "safeguard.pipelines.objections": 1,
    "safeguard.pipelines.catalogue": 1, "safeguard.pipelines.linking": 1, "safeguard.pipelines.serving": 1,
    "safeguard.pipelines.ingesting": 1, "safeguard.pipelines.retention": 1,
    # 2 definitions: assets, checks, jobs, schedules and sensors (never import each other)
    "safeguard.pipelines.operations": 2,
    # 3 the code location
    "safeguard.pipelines.definitions": 3,
    # 4 entry points for the command line (never import each other)
    "safeguard.pipelines.runner": 4, "safeguard.pipelines.monitoring_run": 4,
}  # fmt: skip


PACKAGE_INITS = (
    "safeguard.pipelines",
    "safeguard.pipelines.assets",
    "safeguard.pipelines.checks",
    "safeguard.pipelines.defs",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(("safeguard", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def _layer(module: str) -> int:
    if module.startswith(
        ("safeguard.pipelines.assets.", "safeguard.pipelines.checks.", "safeguard.pipelines.defs.")
    ):
        return 2
    return LAYERS[module]


def pipelines_graph() -> dict[str, set[str]]:
    """pipelines module -> the pipelines modules it imports at run time."""
    modules = {_module_name(p): p for p in _files("pipelines")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {
            m for m, _ in runtime_imports(path, names=True) if m in modules and m != name
        } - set(PACKAGE_INITS)
    return {k: v for k, v in graph.items() if k not in PACKAGE_INITS}


def test_every_pipelines_module_has_a_layer() -> None:
    unplaced = [m for m in pipelines_graph() if m not in LAYERS and _layer_or_none(m) is None]
    assert not unplaced, f"place these modules in a layer (docs/DESIGN.md): {unplaced}"


def _layer_or_none(module: str) -> int | None:
    try:
        return _layer(module)
    except KeyError:
        return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            low, high = _layer(target), _layer(module)
            if low > high or (low == high and high != 1):
                problems.append(f"{module} (layer {high}) imports {target} (layer {low})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_pipelines_has_four_layers_and_imports_only_downwards() -> None:
    graph = pipelines_graph()
    assert {_layer(m) for m in graph} <= {1, 2, 3, 4}
    assert layer_violations(graph) == []


def test_no_asset_module_imports_another_and_only_the_code_location_imports_them() -> None:
    graph = pipelines_graph()
    definitions = {m for m in graph if _layer(m) == 2 and m != "safeguard.pipelines.operations"}
    offenders = {
        (m, t) for m, imported in graph.items() for t in imported & definitions
        if m != "safeguard.pipelines.definitions"
    }  # fmt: skip
    assert offenders == set()


def test_pipelines_has_no_import_cycle() -> None:
    assert cycles(pipelines_graph()) == []


def test_layer_and_cycle_checks_fail_on_a_bad_graph() -> None:
    bad = {
        "safeguard.pipelines.assets.flags": {"safeguard.pipelines.assets.model"},
        "safeguard.pipelines.assets.model": {"safeguard.pipelines.definitions"},
        "safeguard.pipelines.definitions": {"safeguard.pipelines.assets.model"},
    }
    assert len(layer_violations(bad)) == 2
    assert cycles(bad)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


# issue 15: at most 4 modules in any chain of pipelines-internal imports (an entry point ->
# definitions -> an asset module -> a foundation module). It holds because foundation modules
# import no other pipelines module (test_foundation_modules_import_no_other_pipelines_module):
# what they share is in lower packages (safeguard.contracts.tables, safeguard.contracts.council,
# safeguard.warehouse, safeguard.governance.pending_objections).
LONGEST_CHAIN = 4


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest import chain of ``graph`` (modules, first importer first); acyclic graph."""
    memo: dict[str, list[str]] = {}

    def down(node: str) -> list[str]:
        if node not in memo:
            tails = [down(t) for t in sorted(graph.get(node, ()))]
            memo[node] = [node, *max(tails, key=len, default=[])]
        return memo[node]

    return max((down(n) for n in sorted(graph)), key=len, default=[])


def test_foundation_modules_import_no_other_pipelines_module() -> None:
    graph = pipelines_graph()
    leaning = {m: sorted(graph[m]) for m in graph if _layer(m) == 1 and graph[m]}
    assert leaning == {}, "a foundation module imports another: move what they share down"


def test_pipelines_import_chains_do_not_grow() -> None:
    chain = longest_chain(pipelines_graph())
    assert len(chain) <= LONGEST_CHAIN, f"import chain of {len(chain)}: {' -> '.join(chain)}"


def test_longest_chain_measures_modules() -> None:
    graph = {"a": {"b", "d"}, "b": {"c"}, "c": set(), "d": set()}
    assert longest_chain(graph) == ["a", "b", "c"]
    assert len(longest_chain(pipelines_graph())) >= 4  # runner -> definitions -> asset -> ...
