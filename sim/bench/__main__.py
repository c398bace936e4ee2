"""`python -m sim.bench [NAME ...] [--quick]`."""

import sys

from sim.bench import main

sys.exit(main())
