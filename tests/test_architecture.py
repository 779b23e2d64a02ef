"""The package's shape: dependencies point down, no import cycles, small functions.

Every ``vidpred`` module belongs to a unit (a top-level module or a sub-package) with a layer;
a module may import its own unit, or units of a lower layer. Imports inside functions count:
they are dependencies too, only deferred.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "vidpred"

# lower layers know nothing of higher ones
LAYERS = {
    "errors": 0,
    "progress": 1, "device": 1, "schedules": 1, "losses": 1, "vision": 1, "camera": 1, "viz": 1,
    "rundir": 1, "fields": 1,
    "data": 2, "models": 2,
    "config": 3,
    "checkpoint": 4,
    "evaluation": 5,
    "training": 6, "planning": 6,
    "sweep": 7, "demo": 7,
    "cli": 8,
    "__main__": 9, "__init__": 9,
}


def _module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    is_pkg = rel.name == "__init__"
    return ".".join(rel.parts[:-1] if is_pkg else rel.parts), is_pkg


def _imports(path: Path) -> set[str]:
    """Absolute names of the vidpred modules/packages ``path`` imports (anywhere in the file)."""
    mod, is_pkg = _module_name(path)
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base[:len(base) - node.level + 1] + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts[0] != "vidpred":
                continue
            name = ".".join(parts)
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)  # `from . import module`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "vidpred")
    return out


def _unit(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) == 1:
        return "__init__"
    unit = parts[1]
    if (SRC / unit).is_dir() or (SRC / f"{unit}.py").is_file():
        return unit
    return None  # a name imported from a package (a class), not a module


def _unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        mod, _ = _module_name(path)
        src = _unit(mod)
        for name in _imports(path):
            dst = _unit(name)
            if dst is not None and dst != src and name != "vidpred":
                graph.setdefault(src, set()).add(dst)
    return graph


def test_every_unit_has_a_layer():
    units = {p.stem for p in SRC.glob("*.py")} | {p.name for p in SRC.iterdir()
                                                  if p.is_dir() and (p / "__init__.py").exists()}
    assert units <= set(LAYERS), sorted(units - set(LAYERS))


def test_dependencies_point_down():
    upward = [(src, dst) for src, dsts in _unit_graph().items() for dst in dsts
              if LAYERS[dst] > LAYERS[src]]
    assert not upward, upward


def test_no_import_cycles_between_units():
    graph = _unit_graph()
    state: dict[str, int] = {}

    def visit(u: str, stack: list[str]) -> list[str] | None:
        state[u] = 1
        for v in graph.get(u, ()):
            if state.get(v) == 1:
                return stack + [u, v]
            if v not in state:
                found = visit(v, stack + [u])
                if found:
                    return found
        state[u] = 2
        return None

    for u in list(graph):
        if u not in state:
            cycle = visit(u, [])
            assert cycle is None, " -> ".join(cycle)


def test_functions_stay_short():
    """No function under src/ is longer than 60 lines (docstring included)."""
    long = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long
