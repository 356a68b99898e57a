"""Dependencies point one way (ARCHITECTURE.md): an app imports only the apps below it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "core",
    "config",
    "accounts",
    "audit",
    "notifications",
    "patients",
    "billing",
    "scheduling",
    "prescriptions",
    "demo",
]
MAY_IMPORT = {
    "core": set(),
    "config": {"core"},
    "accounts": {"core", "audit"},
    "audit": {"core", "accounts"},  # the User type, for annotations only
    "notifications": {"core", "accounts", "audit"},
    "patients": {"core", "accounts", "audit", "notifications"},
    "billing": {"core", "accounts", "audit", "notifications", "patients"},
    "scheduling": {"core", "accounts", "audit", "notifications", "patients", "billing"},
    "prescriptions": {
        "core",
        "accounts",
        "audit",
        "notifications",
        "patients",
        "billing",
        "scheduling",
    },
    "demo": {
        "core",
        "accounts",
        "audit",
        "notifications",
        "patients",
        "billing",
        "scheduling",
        "prescriptions",
    },
}


def imported_apps(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(APPS)
    return found


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - MAY_IMPORT[app] - {app})
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {path: apps for path, apps in wrong.items() if apps} == {}
