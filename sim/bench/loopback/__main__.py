"""`python -m sim.bench.loopback [--peers 3 20] [--trials 10]`."""

import sys

from sim.bench.loopback.run import main

sys.exit(main())
