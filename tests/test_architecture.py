"""The layer contract (pyproject's [tool.importlinter], docs/architecture.md): imports point
from the edges inward only, and nothing imports in a circle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package as it stands in ``root/src`` (not the installed one)."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
         "from importlinter.cli import lint_imports_command; lint_imports_command()",
         str(root / "src"), "--config", str(root / "pyproject.toml"), "--no-cache"],
        capture_output=True, text=True, cwd=root, timeout=120, check=False)


def test_the_tree_keeps_the_layer_contract() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(("module", "wrong_way"), [
    ("core/chunks.py", "import kbassist.adapters.index"),  # the core reaching out
    ("adapters/audit.py", "import kbassist.app.assistant"),  # an adapter reaching up
    ("cli.py", "import kbassist.adapters.embeddings"),  # an edge skipping the use cases
])
def test_a_wrong_way_import_breaks_the_contract(tmp_path: Path, module: str,
                                                wrong_way: str) -> None:
    shutil.copytree(REPO / "src" / "kbassist", tmp_path / "src" / "kbassist",
                    ignore=shutil.ignore_patterns("__pycache__", "ui", "prompts_data"))
    shutil.copytree(REPO / "ui", tmp_path / "src" / "kbassist" / "ui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "kbassist" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{wrong_way}\n", encoding="utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout
    assert "BROKEN" in done.stdout
    assert wrong_way.split()[-1] in done.stdout


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = grimp.build_graph("kbassist", exclude_type_checking_imports=True)
    circles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                circles.append(" -> ".join([module, *chain]))
    assert circles == []
