"""Runs the local stand-ins of the external APIs in one process (a development tool).

    python -m jiwa.dev.standins --meta-port 9100
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from werkzeug.serving import make_server


def serve(app: Any, port: int, host: str = "127.0.0.1") -> Any:
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meta-port", type=int, required=True)
    parser.add_argument("--website", default="", help="the sample account's bio link")
    args = parser.parse_args()

    from jiwa.dev import meta_standin

    servers = [serve(meta_standin.create_app(website=args.website), args.meta_port)]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
