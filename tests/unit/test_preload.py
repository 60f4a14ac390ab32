"""jiwa.waves.preload: what the later waves need is loaded, off the event loop, while the
brand call waits on Claude."""

from __future__ import annotations

import json
import subprocess
import sys

from jiwa.waves.preload import LATER

CHECK = """
import json, sys
from datetime import UTC, datetime
from jiwa.commerce_dates import public_holidays
from jiwa.waves import preload
before = [m for m in preload.LATER + ("holidays",) if m in sys.modules]
preload.later_waves(datetime(2026, 12, 20, tzinfo=UTC))
print(json.dumps({"before": before,
                  "after": [m for m in preload.LATER + ("holidays",) if m in sys.modules],
                  "years_cached": public_holidays.cache_info().currsize}))
"""


def test_the_later_waves_and_the_windows_holidays_are_loaded() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == []
    assert set(seen["after"]) == {*LATER, "holidays"}
    assert seen["years_cached"] == 2  # 2026-12-21 .. 2027-01-03 spans two years
