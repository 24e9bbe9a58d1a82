"""The ``ddtflow`` command line: check, compile, schema, extract, chat, test, graph, …

Each group of commands lives in a private ``runtime._cli_*`` module that registers on
``app``; this module only assembles them.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ddtflow",
    help="Deterministic voice and chat dialogues: compile flow projects, run and replay them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


_registered = False


def _register() -> None:
    """Import every ``runtime._cli_*`` module and let it add its commands (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    import importlib
    import pkgutil

    import runtime

    for info in sorted(pkgutil.iter_modules(runtime.__path__), key=lambda i: i.name):
        if info.name.startswith("_cli_"):
            importlib.import_module(f"runtime.{info.name}").register(app)


def main() -> None:
    """Console entry point."""
    _register()
    app()


if __name__ == "__main__":
    main()
