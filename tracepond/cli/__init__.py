"""The ``tracepond`` command line.

Every command takes ``--store FILE`` (falling back to ``TRACEPOND_STORE``, then the default).
Errors print one clear line on stderr and exit non-zero, never a traceback. Subcommands owned by
other parts of the package (the viewer, exporters, runs) are imported only when invoked, so
``tracepond --help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command defined by the part that owns it.
_LAZY_COMMANDS: dict[str, str] = {
    "demo": "tracepond.cli.traces:demo",
    "doctor": "tracepond.cli.doctor:doctor",
    "show": "tracepond.cli.traces:show",
    "sql": "tracepond.cli.traces:sql_command",
    "traces": "tracepond.cli.traces:traces",
    "ui": "tracepond.cli.ui:ui",
    "export": "tracepond.cli.export:export",
    "import": "tracepond.cli.export:import_",
    "runs": "tracepond.cli.runs:runs",
    "models": "tracepond.cli.runs:models",
    "mcp": "tracepond.cli.mcp:mcp",
    "prompts": "tracepond.cli.prompts:prompts",
    "eval": "tracepond.cli.evaluations:eval_group",
}


class _LazyGroup(click.Group):
    """A group whose heavier subcommands load on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        try:
            command = getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:
            return _missing_dependency_command(cmd_name, exc)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def _missing_dependency_command(name: str, exc: ImportError) -> click.Command:
    """A stand-in that explains which optional dependency a command needs."""
    message = (
        f"'tracepond {name}' needs an optional dependency that is missing ({exc}). "
        'Install it with: pip install "tracepond[all]"'
    )

    def explain() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=explain, help=message, short_help="(needs tracepond[all])")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracepond")
def main() -> None:
    """tracepond: see inside the Python apps that call LLMs."""
