#!/usr/bin/env python3
"""Put every package of ours under the one ``safeguard`` import name (issue 16, packaging).

The folders stay at the repository root (``pipelines/``, ``features/``, ``models/``, ...); the
distribution maps them into the namespace (``safeguard.pipelines`` -> ``pipelines/``, setuptools
``package-dir``), so an installed safeguard exposes one top-level import name and never shadows
another distribution's ``models`` or ``pipelines``. This script does every text rewrite that
needs, and is idempotent: a second run changes nothing. Run it again after adding a package
(a top-level folder with an ``__init__.py``) or merging code written with the bare names:

    python tools/namespace.py            # rewrite, then ruff (imports sorted, format) on changed .py
    python tools/namespace.py --check    # exit 1 and list the files it would change
    python tools/namespace.py --verbose  # also print every rewrite outside import statements

What it rewrites, in every tracked (or new, not ignored) text file but ``bench/results/``:
- Python imports (``ast``): ``from pipelines.x import y`` -> ``from safeguard.pipelines.x import
  y``; ``import linkage`` -> ``from safeguard import linkage``; ``import dpia.audit`` ->
  ``import safeguard.dpia.audit`` and its uses ``dpia.audit.f`` -> ``safeguard.dpia.audit.f``.
- Dotted module paths in strings, comments, docs and configuration (``"models.estimator.Model"``,
  ``-m pipelines.definitions``, ``portal.server:production_app``, mock.patch targets), only when
  the path names a real module of ours or a name its package defines (so ``portal.duckdb``, a
  file name, stays); import lines quoted in strings or docs.
- Bare package names where they name a package: ``resources.files("dpia")``,
  ``PackageLoader("governance", ...)``, ``getLogger("portal")``, ``import_module``, Dagster's
  ``managed_python_loggers`` list and ``module_name:`` settings. (dg's ``root_module`` stays the
  folder name: dg looks for ``<root_module>/defs`` on disk; nothing imports it by that name.)
- ``pyproject.toml``: the ``[tool.setuptools]`` package list and ``package-dir`` mapping, written
  from the folders; ``package-data`` keys and the mypy package list.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NS = "safeguard"
SELF = Path(__file__).resolve()
SKIP_DIRS = ("bench/results/",)  # measurements of the past keep the names they ran under
TEXT_SUFFIXES = {
    ".py", ".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".j2", ".html",
    ".service", ".sh", ".conf", ".example", ".env",
}  # fmt: skip
TEXT_NAMES = {"Makefile", "run", "Dockerfile"}
# calls whose first argument is a package or module name
NAME_CALLS = {"files", "PackageLoader", "getLogger", "import_module", "find_spec", "Package"}


def packages(root: Path = ROOT) -> list[str]:
    """Our packages: top-level folders with an ``__init__.py``, ``safeguard`` itself excepted."""
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name != NS and p.name.isidentifier()
    )


def subpackages(root: Path = ROOT) -> list[str]:
    """Every package of the distribution, by its ``safeguard.`` name: as setuptools'
    find_namespace would list them, data folders (``portal/templates``) included."""
    found = [NS]
    for top in [NS, *packages(root)]:
        base = root / top
        for folder in sorted(p for p in [base, *base.rglob("*")] if p.is_dir()):
            rel = folder.relative_to(base)
            if "__pycache__" in rel.parts or not all(p.isidentifier() for p in rel.parts):
                continue
            name = ".".join((NS, *(() if top == NS else (top,)), *rel.parts))
            if name not in found:
                found.append(name)
    return sorted(found)


# ---- what is a module path of ours ------------------------------------------------------------


@cache
def _defined_names(init: Path) -> frozenset[str]:
    """Names a module defines at its top level (functions, classes, assignments, from-imports)."""
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return frozenset()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return frozenset(names)


def is_ours(dotted: str, pkgs: frozenset[str], root: Path = ROOT) -> bool:
    """Whether ``pkg.a.b`` names a module of ours (or a name defined by the package it reaches)."""
    head, *parts = dotted.split(".")
    if head not in pkgs:
        return False
    path = root / head
    for part in parts:
        if (path / part / "__init__.py").is_file():
            path = path / part
            continue
        if (path / f"{part}.py").is_file():
            return True
        return part in _defined_names(path / "__init__.py")
    return True


# ---- text rewrites (docs, configuration, and strings and comments inside Python) --------------


def _loggers(items: list[tuple[str, str, str]]) -> list[str]:
    """A managed_python_loggers list with our packages folded into ``safeguard``."""
    if not items:
        return []
    ours = frozenset(packages())
    kept = [(a, name, c) for a, name, c in items if name not in ours]
    if len(kept) < len(items) and not any(name == NS for _, name, _ in kept):
        first = items[0]
        kept.append((first[0], NS, first[2]))
    return [f"{a}{name}{c}" for a, name, c in kept]


class Rewriter:
    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.pkgs = frozenset(packages(root))
        alt = "|".join(sorted(self.pkgs, key=len, reverse=True)) or "(?!)"
        self.alt = alt
        # pkg.a.b (optionally :attr), not already behind a dot, a word, a slash or a dash
        self.dotted = re.compile(
            rf"(?<![\w./\-])({alt})((?:\.[A-Za-z_]\w*)+)(?=:[A-Za-z_]\w*|(?![\w\-]))"
        )
        start = r"(?:(?<=^)|(?<=[\"';`])|(?<=\\n))"
        self.from_line = re.compile(
            rf"(?m){start}([ \t]*)from[ \t]+({alt})((?:\.\w+)*)[ \t]+import\b"
        )
        self.import_line = re.compile(
            rf"(?m){start}([ \t]*)import[ \t]+({alt})((?:\.\w+)*)([ \t]+as[ \t]+\w+)?(?=[ \t]*(?:$|\\n|[\"'`#;]))"
        )
        self.dash_m = re.compile(rf"(?<=-m )({alt})(?![\w.])")
        self.bare_setting = re.compile(
            rf"(?m)^([ \t]*module_name[ \t]*[:=][ \t]*[\"']?)({alt})(?=[\"']?[ \t]*(?:#.*)?$)"
        )
        self.changes: list[str] = []

    def text(self, text: str, where: str) -> str:
        def note(old: str, new: str) -> str:
            if old != new:
                self.changes.append(f"{where}: {old!r} -> {new!r}")
            return new

        def from_sub(m: re.Match[str]) -> str:
            return note(m[0], f"{m[1]}from {NS}.{m[2]}{m[3]} import")

        def import_sub(m: re.Match[str]) -> str:
            alias = m[4] or ""
            new = (
                f"{m[1]}import {NS}.{m[2]}{m[3]}{alias}"
                if m[3]
                else f"{m[1]}from {NS} import {m[2]}{alias}"
            )
            return note(m[0], new)

        def dotted_sub(m: re.Match[str]) -> str:
            name = m[1] + m[2]
            return note(m[0], f"{NS}.{name}") if is_ours(name, self.pkgs, self.root) else m[0]

        text = self.from_line.sub(from_sub, text)
        text = self.import_line.sub(import_sub, text)
        text = self.dotted.sub(dotted_sub, text)
        text = self.dash_m.sub(lambda m: note(m[0], f"{NS}.{m[1]}"), text)
        return text

    def config(self, text: str, where: str) -> str:
        """YAML/TOML settings naming a bare package; Dagster's managed_python_loggers list, where
        ``safeguard`` alone covers every package (a package listed as well would log twice)."""
        text = self.bare_setting.sub(lambda m: f"{m[1]}{NS}.{m[2]}", text)
        out, block = [], None  # block: the list items read so far
        for line in text.splitlines(keepends=True):
            stripped = line.strip()
            if stripped.startswith("managed_python_loggers:"):
                out.append(line)
                block = []
                continue
            item = re.fullmatch(r"(\s*-\s*)([\w.]+)(\s*)", line) if block is not None else None
            if item is None and block is not None:
                out.extend(_loggers(block))
                block = None
            if item is not None:
                block.append((item[1], item[2], item[3]))
                if item[2] in self.pkgs:
                    self.changes.append(f"{where}: logger {item[2]} -> {NS}")
                continue
            out.append(line)
        if block is not None:
            out.extend(_loggers(block))
        return "".join(out)

    # ---- Python -------------------------------------------------------------------------------

    def fstring(self, string: str, where: str) -> str:
        """A string literal rewritten as text; in an f-string only the literal parts, never the
        code in ``{...}`` (``f"{features.columns}"`` names a variable)."""
        prefix = string[: len(string) - len(string.lstrip("rRbBuUfF"))]
        if "f" not in prefix.lower():
            return self.text(string, where)
        parts, depth, start = [], 0, 0
        i = 0
        while i < len(string):
            c = string[i]
            if depth == 0 and string.startswith(("{{", "}}"), i):
                i += 2
                continue
            if c == "{":
                if depth == 0:
                    parts.append((False, string[start:i]))
                    start = i
                depth += 1
            elif c == "}" and depth:
                depth -= 1
                if depth == 0:
                    parts.append((True, string[start : i + 1]))
                    start = i + 1
            i += 1
        parts.append((depth > 0, string[start:]))
        return "".join(p if code else self.text(p, where) for code, p in parts)

    def python(self, source: str, where: str) -> str:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            print(f"namespace: {where}: not valid Python, left alone", file=sys.stderr)
            return source
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))

        def pos(lineno: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
            return offsets[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

        edits: list[tuple[int, int, str]] = []
        dotted_imports: set[str] = set()  # `import a.b` without alias: its uses are rewritten
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] not in self.pkgs:
                    continue
                start, end = (
                    pos(node.lineno, node.col_offset),
                    pos(node.end_lineno, node.end_col_offset),
                )
                segment = source[start:end]
                new = re.sub(
                    rf"^from(\s+){re.escape(node.module)}\b",
                    rf"from\g<1>{NS}.{node.module}",
                    segment,
                )
                edits.append((start, end, new))
            elif isinstance(node, ast.Import):
                ours = [a for a in node.names if a.name.split(".")[0] in self.pkgs]
                if not ours:
                    continue
                if len(node.names) > 1:
                    raise SystemExit(f"namespace: {where}:{node.lineno}: split `import a, b` first")
                alias = node.names[0]
                start, end = (
                    pos(node.lineno, node.col_offset),
                    pos(node.end_lineno, node.end_col_offset),
                )
                suffix = f" as {alias.asname}" if alias.asname else ""
                if "." not in alias.name:
                    new = f"from {NS} import {alias.name}{suffix}"
                else:
                    new = f"import {NS}.{alias.name}{suffix}"
                    if not alias.asname:
                        dotted_imports.add(alias.name)
                edits.append((start, end, new))
        # strings and comments, and the uses of `import a.b`
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        code = [
            t
            for t in tokens
            if t.type
            not in (
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.COMMENT,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENDMARKER,
            )
        ]
        import_spans = [(s, e) for s, e, _ in edits]
        for i, tok in enumerate(code):
            start, end = (
                offsets[tok.start[0] - 1] + tok.start[1],
                offsets[tok.end[0] - 1] + tok.end[1],
            )
            if any(s <= start < e for s, e in import_spans):
                continue
            if tok.type == tokenize.STRING:
                new = self.fstring(tok.string, where)
                if (
                    tok.string[1:-1] in self.pkgs
                    and tok.string[0] in "\"'"
                    and i >= 2
                    and code[i - 1].string == "("
                    and code[i - 2].string in NAME_CALLS
                ):
                    new = f"{tok.string[0]}{NS}.{tok.string[1:-1]}{tok.string[-1]}"
                    self.changes.append(f"{where}: {tok.string} -> {new}")
                if new != tok.string:
                    edits.append((start, end, new))
            elif (
                tok.type == tokenize.NAME
                and dotted_imports
                and (i == 0 or code[i - 1].string != ".")
            ):
                for dotted in sorted(dotted_imports, key=len, reverse=True):
                    parts = dotted.split(".")
                    window = [t.string for t in code[i : i + 2 * len(parts) - 1]]
                    if window == [x for p in parts for x in (p, ".")][:-1]:
                        edits.append((start, start, f"{NS}."))
                        break
        for tok in tokens:
            if tok.type == tokenize.COMMENT:
                start = offsets[tok.start[0] - 1] + tok.start[1]
                new = self.text(tok.string, where)
                if new != tok.string:
                    edits.append((start, start + len(tok.string), new))
        for start, end, new in sorted(edits, reverse=True):
            source = source[:start] + new + source[end:]
        return source


# ---- pyproject.toml -----------------------------------------------------------------------------

SETUPTOOLS_NOTE = (
    "# One import name, `safeguard`; its sub-packages stay at the repository root and are mapped\n"
    "# into it. Written by tools/namespace.py from the folders: run it after adding a package.\n"
)


def setuptools_tables(root: Path = ROOT) -> str:
    pkgs = subpackages(root)
    listed = "".join(f'    "{p}",\n' for p in pkgs)
    mapping = "".join(f'"{NS}.{p}" = "{p}"\n' for p in packages(root))
    return (
        f"[tool.setuptools]\n{SETUPTOOLS_NOTE}packages = [\n{listed}]\n\n"
        f"[tool.setuptools.package-dir]\n{mapping}\n"
    )


def _tables(text: str) -> list[tuple[str, int, int]]:
    """(header, start, end) of every TOML table; a table runs to the next header."""
    heads = [(m[1], m.start()) for m in re.finditer(r"(?m)^\[([^\]\n]+)\]\s*$", text)]
    return [
        (h, s, heads[i + 1][1] if i + 1 < len(heads) else len(text))
        for i, (h, s) in enumerate(heads)
    ]


def pyproject(text: str, rw: Rewriter, root: Path = ROOT) -> str:
    owned = {"tool.setuptools", "tool.setuptools.package-dir", "tool.setuptools.packages.find",
             "tool.setuptools.packages"}  # fmt: skip
    spans = [(s, e) for h, s, e in _tables(text) if h.strip() in owned]
    block = setuptools_tables(root)
    if spans:
        first = spans[0][0]
        for s, e in sorted(spans, reverse=True):
            text = text[:s] + text[e:]
        text = text[:first] + block + text[first:]
    else:
        anchor = re.search(r"(?m)^\[tool\.setuptools\.package-data\]", text) or re.search(
            r"(?m)^\[tool\.", text
        )
        at = anchor.start() if anchor else len(text)
        text = text[:at] + block + text[at:]
    for head, s, e in reversed(_tables(text)):
        body = text[s:e]
        if head == "tool.setuptools.package-data":
            new = re.sub(rf'(?m)^"({rw.alt})"(\s*=)', rf'"{NS}.\1"\2', body)
        elif head == "tool.mypy":
            new = re.sub(
                r"(?m)^(packages\s*=\s*\[)([^\]]*)\]",
                lambda m: m[1] + re.sub(rf'"({rw.alt})"', rf'"{NS}.\1"', m[2]) + "]",
                body,
            )
        elif head == "tool.ruff.lint.isort" and "known-first-party" not in body:
            new = body.replace(f"[{head}]\n", f'[{head}]\nknown-first-party = ["{NS}"]\n', 1)
        else:
            continue
        text = text[:s] + new + text[e:]
    if not re.search(r"(?m)^\[tool\.ruff\.lint\.isort\]", text):
        # ruff would sort `safeguard.pipelines` as third-party (no safeguard/pipelines/ folder)
        lint = next(((s, e) for h, s, e in _tables(text) if h == "tool.ruff.lint"), None)
        at = lint[1] if lint else len(text)
        block = f'[tool.ruff.lint.isort]\nknown-first-party = ["{NS}"]\n\n'
        text = text[:at] + block + text[at:]
    return text


# ---- driver -------------------------------------------------------------------------------------


def files(root: Path = ROOT) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    out = []
    for rel in sorted(set(filter(None, listed))):
        path = root / rel
        if rel.startswith(SKIP_DIRS) or path.resolve() == SELF or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            out.append(path)
    return out


def rewrite(path: Path, rw: Rewriter, root: Path = ROOT) -> str:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root).as_posix()
    if path.suffix == ".py":
        return rw.python(text, where)
    if path.name == "pyproject.toml" and path.parent == root:
        text = pyproject(text, rw, root)
    new = rw.text(text, where)
    if path.suffix in {".yaml", ".yml", ".toml"}:
        new = rw.config(new, where)
    return new


def ruff(paths: list[Path], root: Path = ROOT) -> None:
    exe = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(exe).exists() and not shutil.which(exe):
        print("namespace: ruff not found; sort imports and format the changed files yourself")
        return
    names = [str(p) for p in paths]
    subprocess.run(
        [exe, "check", "--quiet", "--select", "I", "--fix", *names], cwd=root, check=False
    )
    subprocess.run([exe, "format", "--quiet", *names], cwd=root, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would change"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print every rewrite outside imports"
    )
    parser.add_argument("--no-ruff", action="store_true", help="do not sort imports or format")
    args = parser.parse_args(argv)
    rw = Rewriter(ROOT)
    changed: list[Path] = []
    for path in files(ROOT):
        old = path.read_text(encoding="utf-8")
        new = rewrite(path, rw, ROOT)
        if new != old:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.verbose:
        print("\n".join(rw.changes))
    rel = [p.relative_to(ROOT).as_posix() for p in changed]
    if args.check:
        print("\n".join(f"would change {r}" for r in rel) or "namespace: nothing to change")
        return 1 if changed else 0
    py = [p for p in changed if p.suffix == ".py"]
    if py and not args.no_ruff:
        ruff(py, ROOT)
    print(
        f"namespace: packages {', '.join(packages(ROOT))} under {NS}; {len(changed)} files changed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
