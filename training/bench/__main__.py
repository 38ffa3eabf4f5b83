"""`python -m training.bench`: the driver (and, with --worker, one worker process)."""
import sys

from .runner import main

sys.exit(main())
