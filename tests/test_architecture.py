"""The rooms of src/floodwall import downwards only, in the order docs/architecture.md gives,
and no function is long without saying why."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGE = REPOSITORY / "src" / "floodwall"
MAP = REPOSITORY / "docs" / "architecture.md"
LONG_FUNCTION = 60
"""Lines a function may have without a comment at its start saying why it must be one."""
ENTRY_POINTS = frozenset({"__init__", "__main__"})
"""The package's own entry modules, above every room."""


def floors() -> list[set[str]]:
    """The rooms of each floor, bottom first, as the block after `<!-- floors` lists them."""
    text = MAP.read_text()
    block = re.search(r"<!-- floors[^>]*-->\s*```\n(.*?)```", text, re.DOTALL)
    assert block is not None, f"{MAP} lost its floors block"
    result: list[set[str]] = []
    for line in reversed(block.group(1).strip().splitlines()):
        names = line.split(":", 1)[-1]
        result.append({name.strip() for name in names.split(",") if name.strip()})
    return result


def room_of(path: Path) -> str:
    """The room a module of src/floodwall belongs to: its package, or its own name."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_rooms(path: Path) -> Iterator[tuple[str, int]]:
    """(room, line) of every floodwall import in a module, lazy and TYPE_CHECKING ones too."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "floodwall" and len(parts) > 1:
                yield parts[1], node.lineno


def modules() -> list[Path]:
    """Every module of the package."""
    return sorted(PACKAGE.rglob("*.py"))


def test_every_room_is_on_a_floor() -> None:
    known = set().union(*floors())
    rooms = {room_of(path) for path in modules()} - ENTRY_POINTS
    assert rooms - known == set(), f"add these rooms to the floors block of {MAP.name}"
    assert known - rooms == set(), f"{MAP.name} lists rooms that no longer exist"


def test_imports_go_downwards_only() -> None:
    level = {room: index for index, rooms in enumerate(floors()) for room in rooms}
    upward = []
    for path in modules():
        room = room_of(path)
        if room in ENTRY_POINTS:
            continue
        for target, line in imported_rooms(path):
            if target != room and level.get(target, len(level)) > level[room]:
                upward.append(f"{path.relative_to(REPOSITORY)}:{line}: {room} imports {target}")
    assert upward == [], "\n".join(upward)


def test_no_two_rooms_import_each_other() -> None:
    edges = {(room_of(path), target) for path in modules()
             for target, _ in imported_rooms(path) if target != room_of(path)}
    both_ways = sorted({tuple(sorted(edge)) for edge in edges if edge[::-1] in edges})
    assert both_ways == [], both_ways


def test_settings_import_nothing_but_settings() -> None:
    for path in (PACKAGE / "settings").rglob("*.py"):
        others = [(target, line) for target, line in imported_rooms(path) if target != "settings"]
        assert others == [], f"{path.relative_to(REPOSITORY)} imports {others}"


def test_long_functions_say_why() -> None:
    unexplained = []
    for path in modules():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            head = "\n".join(lines[node.lineno - 1:node.lineno + 12])
            if length > LONG_FUNCTION and "# One function:" not in head:
                unexplained.append(f"{path.relative_to(REPOSITORY)}:{node.lineno} {node.name} "
                                   f"({length} lines)")
    assert unexplained == [], ("split these, or say why each must be one function in a "
                               "'# One function: …' comment at its start:\n"
                               + "\n".join(unexplained))


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from floodwall.server.daemon import Daemon\n")
    assert list(imported_rooms(module)) == [("server", 2)]
