"""`./emulator.sh bench`: orchestration overhead, streaming vs barrier, time to first
message, webhook and notifier latency, and concurrent onboardings, on this machine, with
provider latencies injected by the stand-ins. Reports numbers; asserts nothing about time.
"""

from __future__ import annotations

import sys

from bench.run import main

sys.exit(main())
