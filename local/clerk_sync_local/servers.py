"""The one server helper of the local tooling: an ASGI app served by uvicorn on 127.0.0.1 in a daemon thread
(`BackgroundServer`), and the lifecycle and address every part served that way shares (`HttpService`)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Final, Self

import uvicorn

HOST: Final = "127.0.0.1"
_START_TIMEOUT_SECONDS: Final = 10.0


class BackgroundServer:
    """Binds first (port 0 picks a free one, so the port is known before serving), then serves until stopped."""

    def __init__(self, app: Any, *, port: int, name: str, thread_name: str) -> None:
        self._app = app
        self._port = port
        self._name = name
        self._thread_name = thread_name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Raises OSError when the port cannot be bound, RuntimeError when the server does not come up."""
        if self._server is not None:
            raise RuntimeError(f"the {self._name} is already running")
        # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it every response
        # stalls ~40 ms (Nagle against delayed ACKs).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_config=None,  # leave the process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=self._thread_name, daemon=True)
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(1)
                sock.close()
                raise RuntimeError(f"the {self._name}'s HTTP server did not start")
            time.sleep(0.005)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)


class HttpService:
    """Start, stop, `with`, and the address of a part served by a `BackgroundServer` in `self._http`.

    Parts that start more than the server (the emulator's webhook sender) extend `start`/`stop`.
    """

    _http: BackgroundServer

    def start(self) -> Self:
        """Bind 127.0.0.1 (port 0 picks a free one) and serve in a background thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"
