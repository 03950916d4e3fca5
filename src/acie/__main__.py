"""``python -m acie``: the ``acie`` command line."""

from acie.cli.main import main

main()
