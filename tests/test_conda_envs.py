"""`snakemake --sdm conda`: each rule's conda env holds what its script imports and the
binaries it may run, read statically: the script's imports and those of every gemcont
module they reach (optional imports under ``except ImportError`` aside), mapped to
distributions; binaries: the tool names those modules spell."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

# executable -> the conda package that provides it
TOOLS = {"plink2": "plink2", "plink1.9": "plink", "regenie": "regenie"}
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):", re.M)


def _field(block: str, name: str) -> str | None:
    m = re.search(rf"^\s+{name}:\s*\n\s+\"([^\"]+)\"", block, re.M)
    return m[1] if m else None


def rules() -> list[tuple[str, Path, Path]]:
    """(rule, conda env file, script) of every rule with both."""
    found = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in RULE.finditer(text)] + [len(text)]
        for lo, hi in zip(starts, starts[1:], strict=False):
            block = text[lo:hi]
            env, script = _field(block, "conda"), _field(block, "script")
            if env and script:
                name = RULE.match(block)[1]
                found.append((name, (smk.parent / env).resolve(), (smk.parent / script).resolve()))
    return found


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside ``try`` whose handler catches ImportError."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            names = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if names & {"ImportError", "ModuleNotFoundError"}:
                return True
    return False


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def closure(script: Path) -> tuple[set[str], set[str]]:
    """Third-party top-level modules and tool names reached from ``script``."""
    todo, seen, external, tools = [script], set(), set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in TOOLS:
                tools.add(node.value)
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = path.relative_to(REPO).with_suffix("").parts[: -node.level]
                    base = ".".join([*package, *filter(None, [base])])
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            if not names or _optional(node, parents):
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "gemcont":
                    found = _module_file(name)
                    if found is not None:
                        todo.append(found)
                elif top and top != "__future__" and top not in sys.stdlib_module_names:
                    external.add(top)
    return external, tools


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[\[=<>~!; ]", line)[0].lower().replace("_", "-"))
    return names


def env_contents(env_file: Path) -> tuple[set[str], set[str], bool]:
    """(conda packages, pip distributions, gemcont installed) of an env file."""
    spec = yaml.safe_load(env_file.read_text())
    conda, pip, editable = set(), set(), False
    for dep in spec["dependencies"]:
        if isinstance(dep, str):
            conda.add(re.split(r"[=<> ]", dep)[0].lower())
            continue
        for item in dep.get("pip", []):
            if item.startswith("-r "):
                pip |= _requirement_names((env_file.parent / item[3:].strip()).resolve())
            elif item.startswith("-e ") and (env_file.parent / item[3:].strip()).resolve() == REPO:
                editable = True
            else:
                pip.add(re.split(r"[\[=<> ]", item)[0].lower())
    return conda, pip, editable


RULES = rules()


def test_rules_found() -> None:
    names = {name for name, _, _ in RULES}
    assert {"regenie_step1", "gwas_chromosome", "summarise_gwas", "build_panel"} <= names


@pytest.mark.parametrize(("rule", "env_file", "script"), RULES, ids=[r[0] for r in RULES])
def test_rule_env_holds_its_imports_and_binaries(rule: str, env_file: Path, script: Path) -> None:
    assert env_file.exists(), f"{rule}: no env file {env_file}"
    conda, pip, editable = env_contents(env_file)
    assert "python" in conda and editable, f"{rule}: {env_file.name} lacks python or -e .."
    external, tools = closure(script)
    distributions = packages_distributions()
    missing = []
    for module in sorted(external):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & (pip | conda):
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    missing += [f"binary {t} (conda {TOOLS[t]})" for t in sorted(tools) if TOOLS[t] not in conda]
    assert not missing, f"{rule}: {env_file.name} lacks {missing}"


def test_gwas_rules_reach_the_engines() -> None:
    """The check sees what a GWAS rule runs: step 1 calls plink2 (QC) and regenie."""
    by_rule = {name: closure(script) for name, _, script in RULES}
    assert {"plink2", "regenie"} <= by_rule["regenie_step1"][1]
    assert {"plink2", "regenie"} <= by_rule["gwas_chromosome"][1]
    assert {"numpy", "pandas", "scipy"} <= by_rule["gwas_chromosome"][0]
