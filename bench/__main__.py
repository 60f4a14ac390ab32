"""`./emulator.sh bench [delivery | start | pipeline | load]`: the benchmarks, on this machine,
with provider latencies injected by the stand-ins. They report numbers and assert nothing
about time.

- (no argument) bench/run.py: orchestration overhead, streaming vs barrier, time to first
  message, webhook and notifier latency, and concurrent onboardings;
- `delivery` bench/delivery.py: status-callback throughput, and what pacing costs;
- `start` bench/start.py: the job's import time, and dispatch -> first progress event;
- `pipeline` bench/pipeline.py: time to first preview and wall time beside their floors,
  at the fast and the realistic latency profile, streamed calendar vs whole calendar;
- `cost` bench/cost.py: the cost of one onboarding with today's models and prompt cache
  beside the configuration #17 was filed against (one model, no cache), the six
  golden-set businesses each onboarded under both;
- `load` bench/load.py: 1,000 onboardings over an hour against the providers' quotas,
  time-scaled (`--quick`: 200 over 12 minutes; `--help` for the inputs).
"""

from __future__ import annotations

import sys

if sys.argv[1:2] == ["delivery"]:
    from bench.delivery import main
elif sys.argv[1:2] == ["start"]:
    from bench.start import main
elif sys.argv[1:2] == ["cost"]:
    from bench.run import main_cost as main
elif sys.argv[1:2] == ["pipeline"]:
    from bench.run import main_pipeline as main
elif sys.argv[1:2] == ["load"]:
    from bench.load import main as load

    sys.exit(load(sys.argv[2:]))
else:
    from bench.run import main

sys.exit(main())
