"""Run backpropgen from a checkout: ``python cli.py ARGS`` is ``backpropgen ARGS``.

The command line lives in ``codegen/command.py`` (installed as ``backpropgen.command``,
the console script's entry point); ``import cli`` gives that module itself."""

import sys

from codegen import command

if __name__ == "__main__":
    sys.exit(command.main())
sys.modules[__name__] = command
