"""``python -m clopy_data SUBCOMMAND ...``: see :mod:`clopy_data.commands`."""
import sys

from clopy_data.commands import main

sys.exit(main())
