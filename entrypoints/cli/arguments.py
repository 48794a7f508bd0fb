"""Argument types and help shared by the subcommands: plain-worded errors, the settings each reads."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import TypeVar

from domain.numbers import parse_number, parse_whole
from entrypoints.config import settings_read_by
from entrypoints.strict import Problem, command_uuid

T = TypeVar("T")

_WIDTH = 72


def argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError: argparse prints its message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


positive_int = argument(parse_whole)
positive_float = argument(parse_number)


def command_uuid_argument(text: str) -> str:
    try:
        return command_uuid(text)
    except Problem as problem:
        raise argparse.ArgumentTypeError(problem.message) from None


def add_command(commands, name: str, help: str, **options) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the environment variables it reads and their defaults."""
    return commands.add_parser(
        name,
        help=help,
        description=help,
        epilog=settings_epilog(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **options,
    )


def settings_epilog(command: str) -> str:
    lines = ["settings (environment variables):"]
    for setting in settings_read_by(command):
        lines.append(f"  {setting.name}")
        text = f"{setting.meaning} (default: {setting.default})"
        lines += textwrap.wrap(
            text,
            _WIDTH,
            initial_indent="      ",
            subsequent_indent="      ",
            break_on_hyphens=False,
            break_long_words=False,
        )
    return "\n".join(lines)
