"""The layering of mgjax: every internal import points down the layers, no module imports itself in a circle, and
imports sit at the top of their module (so a reader sees a module's directions at a glance).

Layers, lowest first (a module may import its own package and any lower layer):
errors < cli (entry-point plumbing), config, flow < parallel < attention, convert < nn < models < checkpoint < data
< train, pipelines (side by side: neither imports the other) < eval < tools < commands < __main__.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "mgjax"

RANKS = {
    "errors": 0,
    "cli": 1, "config": 1, "flow": 1,
    "parallel": 2,
    "attention": 3, "convert": 3,
    "nn": 4,
    "models": 5,
    "checkpoint": 6,
    "data": 7,
    "train": 8, "pipelines": 8,
    "eval": 9,
    "tools": 10,
    "commands": 11,
    "__main__": 12,
}
# Modules whose mgjax imports sit inside functions, and why: the command table imports each command's library only
# when that command runs, after the process-wide flags (XLA_FLAGS, JAX_PLATFORMS) are set.
LAZY_IMPORTS_ALLOWED = {"mgjax.commands"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: pathlib.Path) -> list[tuple[str, int, bool]]:
    """(imported mgjax module, line, at module level) for every internal import of a file. `from mgjax.a import b`
    counts as an import of mgjax.a.b when that is a module, else of mgjax.a."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mgjax":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                target = full if exists(full) else node.module
                out.append((target, node.lineno, node.col_offset == 0))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno, node.col_offset == 0) for a in node.names if a.name.split(".")[0] == "mgjax"]
    return out


def exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mgjax"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_package_has_a_layer():
    unknown = sorted({layer(m) for m in MODULES} - set(RANKS) - {"mgjax"})
    assert not unknown, f"packages without a layer in tests/test_architecture.py: {unknown}"


def test_imports_point_down_the_layers():
    wrong = []
    for module, path in MODULES.items():
        here = layer(module)
        for target, line, _ in imports(path):
            there = layer(target)
            if there == here or there == "mgjax":
                continue
            if RANKS[there] >= RANKS[here]:
                wrong.append(f"{module}:{line} imports {target} ({here} may not import {there})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles():
    graph = {m: {t for t, _, _ in imports(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import circles: {cycles}"


def test_imports_are_at_the_top_of_their_module():
    inside = [f"{m}:{line} imports {t} inside a function" for m, p in MODULES.items() if m not in LAZY_IMPORTS_ALLOWED
              for t, line, top in imports(p) if not top]
    assert not inside, "\n".join(inside)


@pytest.mark.parametrize("source, target", [("models", "data"), ("models", "train"), ("models", "pipelines"),
                                            ("models", "checkpoint"), ("models", "eval"), ("data", "train"),
                                            ("data", "pipelines"), ("train", "pipelines"), ("pipelines", "train"),
                                            ("flow", "models"), ("config", "parallel")])
def test_the_issue_s_forbidden_directions(source, target):
    """The directions the architecture issue names, checked by name (the layer test covers them all)."""
    found = [f"{m}:{line}" for m, p in MODULES.items() if layer(m) == source
             for t, line, _ in imports(p) if layer(t) == target]
    assert not found, f"{source} imports {target} at {found}"


def test_config_imports_nothing_of_mgjax_but_errors():
    found = [f"{m} -> {t}" for m, p in MODULES.items() if layer(m) == "config"
             for t, _, _ in imports(p) if layer(t) not in ("config", "errors")]
    assert not found, found
