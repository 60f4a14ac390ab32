"""Runs the local stand-ins of the external APIs in one process (a development tool).

    python -m jiwa.dev.standins --meta-port 9100 --anthropic-port 9101 --fal-port 9102 \
        --site-port 9103 [--claude-latency-ms 1500 --fal-latency-ms 4000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from typing import Any

from werkzeug.serving import make_server


def serve(app: Any, port: int, host: str = "127.0.0.1", poll_interval: float = 0.5) -> Any:
    """`app` on `port` (0: a free one, `server.server_port`) in a thread. The loop looks for
    a shutdown request every `poll_interval` (socketserver's default half second; at the
    0.02 s the stack's stand-ins had, their process used 4 % of a core doing nothing).
    `shutdown_all` stops several in one such wait."""
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval},
                     daemon=True).start()
    return server


def shutdown_all(servers: list[Any]) -> None:
    """`shutdown()` each of `servers` at once: each call blocks until its loop notices."""
    threads = [threading.Thread(target=server.shutdown) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def schedule(url: str, every: float, stop: threading.Event) -> None:
    """Cloud Scheduler's part: POST to the sweeper every `every` seconds."""
    import httpx

    # One client for every tick: a new one builds a TLS context, 40 ms of CPU, which every
    # 2 s (the test stacks) was most of what an idle stand-ins process did.
    with httpx.Client(timeout=30) as client:
        while not stop.wait(every):
            # the sweeper may not be up yet; the next tick tries again
            with contextlib.suppress(httpx.HTTPError):
                client.post(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meta-port", type=int, required=True)
    parser.add_argument("--anthropic-port", type=int, required=True)
    parser.add_argument("--fal-port", type=int, required=True)
    parser.add_argument("--site-port", type=int, required=True)
    parser.add_argument("--claude-latency-ms", type=float, default=0)
    parser.add_argument("--fal-latency-ms", type=float, default=0)
    parser.add_argument("--sweeper-url", default="", help="Cloud Scheduler stand-in target")
    parser.add_argument("--sweep-seconds", type=float, default=60)
    parser.add_argument("--webhook-url", default="",
                        help="where WhatsApp's stand-in posts delivery statuses (signed with "
                             "$WHATSAPP_APP_SECRET)")
    args = parser.parse_args()

    from jiwa.dev import anthropic_standin, fal_standin, meta_standin, website_standin
    from jiwa.dev.faults import FaultPlan

    # Kopi Senja's bio link: an s.id short link to its Linktree page (tests/data/businesses)
    website = website_standin.sample_bio_link()
    servers = [
        serve(meta_standin.create_app(website=website, webhook_url=args.webhook_url,
                                      app_secret=os.environ.get("WHATSAPP_APP_SECRET", "")),
              args.meta_port),
        serve(anthropic_standin.create_app(FaultPlan(args.claude_latency_ms)),
              args.anthropic_port),
        serve(fal_standin.create_app(FaultPlan(args.fal_latency_ms)), args.fal_port),
        serve(website_standin.create_app(), args.site_port),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.sweeper_url:
        threading.Thread(target=schedule, args=(args.sweeper_url, args.sweep_seconds, stop),
                         daemon=True).start()
    stop.wait()
    shutdown_all(servers)


if __name__ == "__main__":
    main()
