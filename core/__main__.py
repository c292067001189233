"""``python -m core ...`` is the ``memberday`` command, for the Python it runs in."""
from core.cli import main

main()
