"""The runtime's layering, read from the imports of every module under functions/clerk_sync.

Every import counts: at the top, inside a function (lazy) and under TYPE_CHECKING. A broken rule fails naming the
rule, the module and line, and the import. The rules are the RULES table below, listed once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

import clerk_sync

RUNTIME = Path(clerk_sync.__file__).resolve().parent
AWS_SDK = ("boto3", "boto3.*", "botocore", "botocore.*", "mypy_boto3_*")
NOT_SHIPPED = tuple(
    pattern
    for package in ("clerk_sync_local", "typer", "rich", "infra", "aws_cdk", "moto", "tests")
    for pattern in (package, f"{package}.*")
)
DOMAIN = (
    "clerk_sync.vocabulary",
    "clerk_sync.models",
    "clerk_sync.items",
    "clerk_sync.keys",
    "clerk_sync.jobs",
    "clerk_sync.messages",
    "clerk_sync.outcomes",
    "clerk_sync.reports",
    "clerk_sync.deadletters",
)


@dataclass(frozen=True)
class Rule:
    says: str
    within: tuple[str, ...]  # module patterns the rule applies to
    forbidden: tuple[str, ...]  # import patterns they may not use
    allowed: tuple[str, ...] = ()  # exceptions among `forbidden`
    exempt: tuple[str, ...] = ()  # modules among `within` the rule does not apply to


RULES = (
    Rule("handlers never import boto3 or botocore directly", ("clerk_sync.handlers.*",), AWS_SDK),
    Rule(
        "nothing under functions/ imports local tooling, the CLI, the CDK app or the tests",
        ("clerk_sync", "clerk_sync.*"),
        NOT_SHIPPED,
    ),
    Rule(
        "api/ and handlers/ use the store only through its package and errors, and never botocore",
        ("clerk_sync.api.*", "clerk_sync.handlers.*"),
        ("clerk_sync.store.*", "botocore", "botocore.*"),
        allowed=("clerk_sync.store.errors",),
    ),
    Rule("the domain models import no AWS SDK", DOMAIN, (*AWS_SDK, "aws_lambda_powertools", "aws_lambda_powertools.*")),
    Rule(
        "use cases never import handlers/ or api/",
        ("clerk_sync.sync", "clerk_sync.sync.*"),
        ("clerk_sync.handlers", "clerk_sync.handlers.*", "clerk_sync.api", "clerk_sync.api.*"),
    ),
    Rule(
        "botocore's errors stay in the store's table, the queues (events, dead letters) and the AWS clients",
        ("clerk_sync", "clerk_sync.*"),
        ("botocore", "botocore.*"),
        exempt=("clerk_sync.store.table", "clerk_sync.queue", "clerk_sync.dlq", "clerk_sync.aws"),
    ),
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    path: str
    line: int
    target: str  # the imported module (or package.name when that name is a module of the tree)


def module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path) -> list[Import]:
    """Every import statement of every module under `root` (a package directory)."""
    modules = {module_name(root, path): path for path in sorted(root.rglob("*.py"))}
    found: list[Import] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        shown = str(path.relative_to(root.parent))
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [Import(name, shown, node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.append(Import(name, shown, node.lineno, base))
                found += [
                    Import(name, shown, node.lineno, f"{base}.{alias.name}")
                    for alias in node.names
                    if f"{base}.{alias.name}" in modules
                ]
    return found


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(name, pattern) for pattern in patterns)


def violations(found: list[Import], rules: tuple[Rule, ...] = RULES) -> list[str]:
    broken = []
    for rule in rules:
        for imp in found:
            if not _matches(imp.module, rule.within) or imp.module in rule.exempt:
                continue
            if _matches(imp.target, rule.forbidden) and not _matches(imp.target, rule.allowed):
                broken.append(f"{rule.says}: {imp.path}:{imp.line} imports {imp.target}")
    return broken


def test_runtime_modules_keep_every_layering_rule() -> None:
    found = imports_of(RUNTIME)
    assert len({imp.module for imp in found}) > 40  # the whole runtime was read
    broken = violations(found)
    assert not broken, "layering broken:\n" + "\n".join(broken)


def test_layering_check_names_the_rule_and_the_offending_import(tmp_path: Path) -> None:
    package = tmp_path / "clerk_sync"
    (package / "handlers").mkdir(parents=True)
    (package / "sync").mkdir()
    (package / "__init__.py").write_text("")
    (package / "handlers" / "__init__.py").write_text("")
    (package / "handlers" / "worker.py").write_text(
        "import json\n\n\ndef f():\n    from botocore.exceptions import ClientError\n"
    )
    (package / "sync" / "__init__.py").write_text("")
    (package / "sync" / "users.py").write_text("from ..api import permissions\n")

    broken = violations(imports_of(package))

    assert (
        "handlers never import boto3 or botocore directly: clerk_sync/handlers/worker.py:5 imports botocore.exceptions"
        in broken
    )
    assert "use cases never import handlers/ or api/: clerk_sync/sync/users.py:1 imports clerk_sync.api" in broken


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.says)
def test_layering_rule_applies_to_modules_that_exist(rule: Rule) -> None:
    modules = {imp.module for imp in imports_of(RUNTIME)}
    assert any(_matches(module, rule.within) for module in modules), f"{rule.says}: no module matches {rule.within}"
