"""The package's shape: layers imported downwards only, no import circle, modules small
enough to read in one sitting, the training loop short, scripts thin entry points over the
package that import no other script."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: the layers, lowest first: a module may import its own layer and the ones before it.
#: The folder names follow the data's way: a corpus becomes batches (data), a model
#: learns from them (models, training), translates (translation) and is scored
#: (evaluation); runs are kept (runs), exported to other engines (export), compared and
#: served; the CLI sits on top.
LAYERS = (
    ("nmt", "nmt.errors", "nmt.io"),
    ("nmt.system",),
    ("nmt.data",),
    ("nmt.models",),
    ("nmt.translation",),
    ("nmt.evaluation",),
    ("nmt.runs",),
    ("nmt.export",),
    ("nmt.training",),
    ("nmt.compare", "nmt.serve", "nmt.bench"),
    ("nmt.cli",),
)
MAX_LINES = 350
#: a script's code lines at most (its docstring, comments and blank lines not counted)
MAX_SCRIPT_LINES = 25
#: scripts that stand alone: torch_spec.py runs from the Makefile before nmt is installed
STANDALONE_SCRIPTS = {"torch_spec.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = REPO / "nmt") -> dict[str, set[str]]:
    """module -> the nmt modules it imports (at any depth of its code, TYPE_CHECKING too)."""
    modules = {module_name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*head, *([node.module] if node.module else [])])
                # ``from pkg import sub`` depends on the submodule (the package's
                # __init__ runs for any import of a submodule); other names on ``pkg``
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in modules] or [base]
                if len(targets) < len(subs):
                    targets.append(base)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def layer(module: str) -> int:
    best = (-1, -1)
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best, (len(prefix), i))
    assert best[1] >= 0, f"{module} is in no layer: add its package to LAYERS"
    return best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle (one path each), by depth-first search."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        if layer(b) > layer(a)
    ]
    assert not upward, upward


def test_no_import_circle():
    assert not cycles(import_graph())


def test_the_checks_catch_what_they_look_for():
    graph = {"nmt.data.x": {"nmt.training.y"}, "nmt.training.y": {"nmt.data.x"}}
    assert layer("nmt.training.y") > layer("nmt.data.x")
    assert cycles(graph) == [["nmt.data.x", "nmt.training.y", "nmt.data.x"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_modules_are_small_enough_to_read_in_one_sitting():
    long = {
        str(p.relative_to(REPO)): n
        for p in [*(REPO / "nmt").rglob("*.py"), *(REPO / "scripts").glob("*.py")]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_fit_reads_as_the_algorithm():
    tree = ast.parse((REPO / "nmt" / "training" / "trainer.py").read_text(encoding="utf-8"))
    fit = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "fit")
    assert fit.end_lineno - fit.lineno + 1 <= 40


def test_no_script_imports_another():
    for path in (REPO / "scripts").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert not any(n.split(".")[0] == "scripts" for n in names), path.name
                assert not any(n in {p.stem for p in (REPO / "scripts").glob("*.py")}
                               for n in names), path.name  # fmt: skip


def fat_script(text: str) -> list[str]:
    """Why a script is more than a thin entry point (none when it is one): it imports its
    ``main`` from nmt, defines no function or class, has no top-level code beyond imports,
    calls and the ``__main__`` guard, and has at most MAX_SCRIPT_LINES lines of code."""
    tree = ast.parse(text)
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    why = []
    if not any(
        isinstance(n, ast.ImportFrom)
        and (n.module or "").startswith("nmt.")
        and any(a.name == "main" for a in n.names)
        for n in body
    ):
        why.append("imports no main from nmt")
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    if any(isinstance(n, defs) for n in ast.walk(tree)):
        why.append("defines a function or class")
    plain = (ast.Import, ast.ImportFrom, ast.Expr, ast.If)
    if any(not isinstance(n, plain) for n in body):
        why.append("has top-level code beyond imports, calls and the __main__ guard")
    guards = [n for n in body if isinstance(n, ast.If)]
    if any(ast.unparse(n.test) != "__name__ == '__main__'" for n in guards):
        why.append("has an if other than the __main__ guard")
    docstring_lines = set()
    if body is not tree.body:
        docstring_lines = set(range(tree.body[0].lineno, tree.body[0].end_lineno + 1))
    code = [
        line
        for i, line in enumerate(text.splitlines(), 1)
        if i not in docstring_lines and line.strip() and not line.strip().startswith("#")
    ]
    if len(code) > MAX_SCRIPT_LINES:
        why.append(f"{len(code)} lines of code (at most {MAX_SCRIPT_LINES})")
    return why


def test_every_script_is_a_thin_entry_point_over_the_package():
    fat = {
        path.name: why
        for path in sorted((REPO / "scripts").glob("*.py"))
        if path.name not in STANDALONE_SCRIPTS
        and (why := fat_script(path.read_text(encoding="utf-8")))
    }
    assert not fat, fat


def test_the_thin_script_check_catches_a_fat_one():
    thin = (REPO / "scripts" / "score_files.py").read_text(encoding="utf-8")
    assert fat_script(thin) == []
    assert fat_script(thin.replace("from nmt.compare.score_files import main", "main = print"))
    assert fat_script(thin + "\n\ndef helper():\n    return 1\n")
    assert fat_script(thin + "".join(f"x{i} = {i}\n" for i in range(30)))
    assert fat_script(thin.replace('if __name__ == "__main__":', "if sys.argv:"))
