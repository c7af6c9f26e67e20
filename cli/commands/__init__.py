"""CLI command modules.

Each module here defines ``register(subparsers)`` which adds its commands to
the top-level argparse parser; every command's ``func(args, ctx)`` returns an
exit code. ``layerlab.cli.command_table`` names the module of each command, so
adding a command is adding a module and one line to that table.
"""
