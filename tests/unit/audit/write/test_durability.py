"""Durability with real processes and sockets: kill -9 of a process recording
events, and an audit endpoint that refuses connections and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from s3gate.audit.write.log import AuditLog
from s3gate.upstream.local import LocalUpstream
from s3gate.upstream.s3 import S3Upstream
from tests.unit.audit.helpers import (
    Store,
    event,
    settings,
    shipped_events,
    trusted,
    verify,
    wait_for,
)
from tests.unit.upstream.s3.fixtures import settings_for

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from s3gate.audit.write.builders import RequestEvent
    from s3gate.audit.write.log import AuditLog
    from s3gate.audit.settings import AuditSettings
    from s3gate.upstream.local import LocalUpstream

    async def main():
        root = Path(sys.argv[1])
        store = LocalUpstream(root / "store")
        await store.start()
        await store.create_bucket("audit")
        settings = AuditSettings(
            dir=root / "audit", generate_key=True, batch_max_events=20, batch_max_seconds=0.01
        )
        audit = AuditLog(settings, store, "gw-0", data_dir=root)
        await audit.start()
        print("started", flush=True)

        async def client(c):
            n = 0
            while True:
                n += 1
                ev = RequestEvent(f"c{c}-{n}", operation="PutObject", bucket="t", key="k")
                await audit.record(ev.completion(200))
                print(f"c{c}-{n}", flush=True)  # acknowledged: record() returned

        await asyncio.gather(*(client(c) for c in range(16)))

    asyncio.run(main())
    """
)


async def test_kill_dash_nine_loses_no_acknowledged_event(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[4]
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    assert proc.stdout.readline().strip() == b"started"
    while len(acknowledged) < 2000:
        acknowledged.append(proc.stdout.readline().decode().strip())
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read().decode().split()  # printed before it died: acknowledged too
    proc.wait()
    acknowledged += rest

    store = LocalUpstream(tmp_path / "store")
    await store.start()
    bucket = Store(store, "audit", "local")
    try:
        audit = AuditLog(settings(tmp_path, bucket), store, "gw-0", data_dir=tmp_path)
        await audit.start()
        await audit.close()
        events = await shipped_events(bucket)
        shipped = Counter(e["request_id"] for e in events if e["type"] == "request")
        missing = [r for r in acknowledged if r and shipped[r] == 0]
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"
        assert max(shipped.values()) == 1  # and none twice
        assert len({e["id"] for e in events}) == len(events)
        report = await verify(bucket, trusted(tmp_path))
        assert report.ok, report.render()
    finally:
        await store.close()


class Proxy:
    """A TCP forwarder to the moto server, on a port that can be switched on
    and off: the audit endpoint going away and coming back."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.listen = s.getsockname()[1]
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen}"

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen)

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_unreachable_endpoint_then_back(
    moto: Store, moto_endpoint: str, tmp_path: Path
) -> None:
    proxy = Proxy(moto_endpoint)  # not listening yet: connections are refused
    upstream = S3Upstream(settings_for(proxy.url))
    await upstream.start()
    try:
        audit = AuditLog(settings(tmp_path, moto), upstream, "gw-0", data_dir=tmp_path)
        await audit.start()
        for n in range(5):
            await audit.record(event(n))
        await wait_for(lambda: audit.shipper.last_error is not None)
        status = audit.status()
        assert status["backlog_events"] == 6
        assert "ServiceUnavailable" in str(status["last_error"])

        await proxy.up()
        await wait_for(lambda: audit.spool.backlog_events == 0, timeout=15)
        await audit.close()
    finally:
        await upstream.close()
        await proxy.down()
    report = await verify(moto, trusted(tmp_path))
    assert report.ok, report.render()
    assert report.replicas[0].events == 7  # start, five requests, stop
