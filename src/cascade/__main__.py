"""`python -m cascade` runs the CLI."""

from cascade.cli import main

main()
