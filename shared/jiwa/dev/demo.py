"""The offline demo: onboard the sample business through the running local stack and
show the WhatsApp conversation as it happens (a development tool; `./emulator.sh demo`)."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import httpx

from jiwa.dev.simulate import WhatsAppUser, converse
from jiwa.dev.stack import ROOT, load_state


def main() -> int:
    state_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".jiwa"
    state = load_state(state_dir)
    if state is None:
        print("the local stack is not running", file=sys.stderr)
        return 2
    ports, env = state["ports"], state["env"]
    phone = "62812" + f"{secrets.randbelow(10**8):08d}"
    out_dir = ROOT / "demo-output" / time.strftime("%Y%m%d-%H%M%S")
    print(f"Kopi Senja's owner ({phone}) sends /daftar on WhatsApp…\n")
    started = time.monotonic()
    with httpx.Client(timeout=30.0) as http:
        user = WhatsAppUser(http, f"http://127.0.0.1:{ports['whatsapp_webhook']}/",
                            f"http://127.0.0.1:{ports['meta']}", env["WHATSAPP_APP_SECRET"],
                            phone)
        print("  You ▸ /daftar")
        converse(user, "/daftar", save_images=out_dir)
    import os

    from google.cloud import firestore

    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]

    from jiwa.crypto import PhoneDigest
    from jiwa.store import JobStore

    store = JobStore(firestore.Client(project=state["project"]),
                     phones=PhoneDigest(env["PHONE_DIGEST_KEY"]))
    job = store.latest_job_for(phone)
    print(f"\nFinished in {time.monotonic() - started:.1f}s. Previews saved in {out_dir}")
    if job:
        print(f"Job record: onboardingJobs/{job.id} (status {job.status}) and "
              f"businesses/{job.business_id} in the Firestore emulator at "
              f"{env['FIRESTORE_EMULATOR_HOST']}, project {state['project']}")
    print("Stop the stack with: ./emulator.sh down")
    return 0 if job and job.status == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
