"""A second door into the session's moto S3 server that records every request.

moto keeps its state per process, so a WSGI server built on moto's own
application in this process serves the very buckets the `direct` client
sees. Pointing a gateway at this door instead of the plain moto port lets a
test prove that a denied request "touches nothing upstream": nothing new is
recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from tests.e2e.harness import free_port, wait_http


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str


class RecordingUpstream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        app = DomainDispatcherApplication(create_backend_app)
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, self._record(app), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        wait_http(f"{self.endpoint}/moto-api/")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _record(self, app: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if not path.startswith("/moto-api"):
                with self._lock:
                    self._seen.append(
                        Seen(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""))
                    )
            result: Iterable[bytes] = app(environ, start_response)
            return result

        return wsgi

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def since(self, mark: int) -> list[Seen]:
        with self._lock:
            return self._seen[mark:]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
