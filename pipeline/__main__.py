"""`python -m gouji` (installed) or `python -m pipeline` (in the checkout): the CLI."""
import sys

from .cli import main

sys.exit(main())
