"""Every import is declared in pyproject.toml, and requirements.lock pins every declaration."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = {"harombe", "sim", "tests"}
# Modules the test suite imports from its own folder (it is on sys.path under pytest).
TEST_MODULES = {path.stem for path in (ROOT / "tests").glob("*.py")} | {"support"}
LOCKED_EXTRAS = ("dev", "llamacpp")  # what .ci/run installs


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared(extras: tuple[str, ...] | None = None) -> list[Requirement]:
    """The project's requirements: its dependencies plus the named extras (default: all)."""
    project = _project()
    declared = [Requirement(spec) for spec in project["dependencies"]]
    for extra, specs in project["optional-dependencies"].items():
        if extras is None or extra in extras:
            declared += [Requirement(spec) for spec in specs]
    return [req for req in declared if canonicalize_name(req.name) != "harombe"]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _imported_modules(*folders: str) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    modules.setdefault(name.split(".")[0], path)
    return modules


def test_every_third_party_import_is_declared() -> None:
    declared = {canonicalize_name(req.name) for req in _declared()}
    providers = packages_distributions()
    undeclared = []
    for module, path in _imported_modules("harombe", "sim", "tests").items():
        if module in sys.stdlib_module_names or module in OWN_PACKAGES | TEST_MODULES:
            continue
        # A module of an extra not installed here is known by its distribution's name.
        dists = {canonicalize_name(dist) for dist in providers.get(module, [module])}
        if not dists & declared:
            undeclared.append(f"{module} (first imported in {path.relative_to(ROOT)})")
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_lock_pins_every_declared_requirement() -> None:
    pins = _locked()
    problems = []
    for req in _declared(LOCKED_EXTRAS):
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}: locked {pins[name]} outside {req.specifier}")
    assert not problems, "run scripts/lock: " + "; ".join(problems)
