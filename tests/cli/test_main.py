"""The command table: every command is registered by the module it names."""

from __future__ import annotations

from floodwall.cli.main import COMMANDS, build_parser


def test_every_command_is_registered_by_its_module_and_nothing_else() -> None:
    everything = build_parser()
    subparsers = next(a for a in everything._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)  # type: ignore[union-attr]
    for command, module in COMMANDS.items():
        alone = build_parser(command)
        own = next(a for a in alone._actions if a.dest == "command")
        assert command in own.choices, (command, module)  # type: ignore[operator]
        assert set(own.choices) == {c for c, m in COMMANDS.items() if m == module}  # type: ignore[union-attr]
