"""moto's server in a process of its own: `python -m clerk_sync_local.stack.moto_server --port N`.

In the stack's process moto competed for one GIL with the gateway, the authorizer and the worker: a login waited
behind every backfill write (docs/decisions/0023). Here it runs alone, with `moto_indexes` installed and its
DynamoDB requests serialised. It prints `listening <port>` once it accepts connections, or `error <errno>
<message>` if it cannot bind, and exits when its standard input closes, so it never outlives the process that
started it, SIGKILLed or not.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any


class _OneTableWriterAtATime:
    """WSGI wrapper that runs moto's DynamoDB requests one at a time.

    moto's TransactWriteItems restored a copy of the whole table taken when it began if a condition failed, wiping
    what other threads wrote meanwhile; DynamoDB keeps them. Serialising DynamoDB requests (moto holds the GIL for
    most of each anyway) removes that local-only loss without changing the product's request pattern, and lets
    `moto_indexes` keep its indexes without locks. SQS requests (long polls among them) pass freely.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


def make_server(port: int, *, indexed: bool = True) -> Any:
    """moto's threaded WSGI server on 127.0.0.1:`port` (0: a free one), DynamoDB serialised and (unless
    `indexed` is False, as `clerk-sync bench moto` compares) indexed."""
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server as werkzeug_server

    from clerk_sync_local.stack import moto_expressions, moto_indexes, moto_requests

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if indexed:
        moto_indexes.install()
        moto_expressions.install()
        moto_requests.install()
    app = _OneTableWriterAtATime(DomainDispatcherApplication(create_backend_app))
    return werkzeug_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)


def _exit_when_orphaned() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help="moto's own query and transaction code, unindexed")
    options = parser.parse_args(argv)
    try:
        server = make_server(options.port, indexed=not options.plain)
    except OSError as error:
        print(f"error {error.errno or 0} {error.strerror or error}", flush=True)
        sys.exit(1)
    # Ctrl-C reaches the whole process group: the parent stops its own parts first, then closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
