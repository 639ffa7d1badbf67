"""``python -m convstudies``: the ``convstudies`` command (the form the workflow's rules use)."""
import sys

from .cli import main

sys.exit(main())
