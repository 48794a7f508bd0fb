"""Argument types and help shared by the subcommands: plain-worded errors, the settings each reads."""

from __future__ import annotations

import argparse
import textwrap

from entrypoints.config import settings_read_by
from entrypoints.http.converter import command_uuid
from entrypoints.strict import Problem

_WIDTH = 72


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


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
