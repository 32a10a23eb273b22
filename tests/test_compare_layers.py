"""nmt-compare's pipeline order: collect -> analyse -> render, read from the imports of
``nmt/compare/*.py``. No stage imports a later one, no import circle inside the package,
and the package imports no higher layer of nmt (the CLI, the server)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nmt" / "compare"

#: each module's stage; a module may import modules of its own stage or an earlier one
STAGES = {
    "helpers": ("stats", "lengths", "trend"),  # computation helpers under every stage
    "collect": ("rundir", "grouping", "collect"),
    "analyse": [
        "convergence",
        "significance",
        "output_length",
        "rows",
        "averaging",
        "attention",
        "trends",
        "reach",
        "analyse",
    ],
    "render": [
        "render_tables",
        "render_runs",
        "render_csv",
        "render_lengths",
        "render_significance",
        "render_trend",
        "render_hyps",
        "render_markdown",
        "figures",
        "render",
    ],
    "pipeline": ("pipeline", "__init__"),
    # the tools beside the pipeline (scripts/score_files.py, scripts/plot_curves.py,
    # scripts/verify_results.py, scripts/choose_recipe.py, scripts/headline.py): they
    # may use any stage; none uses them
    "tools": ("score_files", "plot_curves", "verify", "verify_derived", "tuning", "headline"),
}
ORDER = list(STAGES)
#: the layers of nmt that nmt.compare may import (besides nmt itself and nmt.compare)
ALLOWED = [
    "errors",
    "io",
    "system",
    "data",
    "models",
    "translation",
    "evaluation",
    "runs",
    "training",
]


def imports(path: Path) -> set[str]:
    """The modules ``path`` imports, absolute dotted names (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # from pkg import module
    return found


def package_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module name (``stats``, ``__init__``) -> the modules of the package it imports."""
    modules = {p.stem for p in package.glob("*.py")}
    graph = {}
    for name in modules:
        inside = {m.removeprefix("nmt.compare.") for m in imports(package / f"{name}.py")}
        graph[name] = {m for m in inside if m in modules and m != "__init__"} - {name}
    return graph


def stage_of(module: str) -> str:
    return next(stage for stage, names in STAGES.items() if module in names)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``a (analyse) imports b (render)`` for every import of a later stage."""
    return [
        f"{a} ({stage_of(a)}) imports {b} ({stage_of(b)})"
        for a, deps in sorted(graph.items())
        for b in sorted(deps)
        if ORDER.index(stage_of(b)) > ORDER.index(stage_of(a))
    ]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles: each one as a path that returns to its first module."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for dep in sorted(graph.get(node, ())):
            visit(dep, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_every_module_has_a_stage():
    staged = {m for names in STAGES.values() for m in names}
    assert {p.stem for p in PACKAGE.glob("*.py")} == staged


def test_no_stage_imports_a_later_one():
    assert upward_imports(package_graph()) == []


def test_no_import_circle_inside_nmt_compare():
    assert circles(package_graph()) == []


def test_nmt_compare_imports_only_lower_layers_of_nmt():
    for path in sorted(PACKAGE.glob("*.py")):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] != "nmt" or len(parts) < 2 or parts[1] == "compare":
                continue
            if name in ("nmt.BOS_ID", "nmt.PAD_ID", "nmt.EOS_ID", "nmt.UNK_ID"):
                continue
            assert parts[1] in ALLOWED, f"{path.name} imports {name}"


def test_the_checks_find_an_upward_import_and_a_circle(tmp_path):
    """The checks themselves: an analyse module that imports the renderer, and two modules
    that import each other, are found."""
    for path in PACKAGE.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    rows = tmp_path / "rows.py"
    rows.write_text(
        rows.read_text(encoding="utf-8") + "\nfrom nmt.compare.render_tables import Column\n",
        encoding="utf-8",
    )
    graph = package_graph(tmp_path)
    assert upward_imports(graph) == ["rows (analyse) imports render_tables (render)"]
    assert [set(c) for c in circles(graph)] == [{"rows", "render_tables"}]
    collect = tmp_path / "collect.py"
    collect.write_text(
        collect.read_text(encoding="utf-8") + "\nfrom nmt.compare import analyse\n",
        encoding="utf-8",
    )
    assert "collect (collect) imports analyse (analyse)" in upward_imports(package_graph(tmp_path))
