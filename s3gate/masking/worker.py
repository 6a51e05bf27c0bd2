"""A masking worker process: runs `MaskRun`s for the gateway, one message at
a time, so the event loop only moves bytes.

Profiles arrive pickled (detectors, rules, token keys) with the key of their
content digests; compiled plans (hyperscan databases) are built and cached
here by `plan_for`, never pickled. A run lives in the worker that opened it.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
from collections import OrderedDict
from multiprocessing.connection import Connection

from s3gate import errors
from s3gate.masking import wire
from s3gate.transform.engine import Masker, MaskRun, WindowRun
from s3gate.transform.errors import MaskingHeld
from s3gate.transform.plan import plan_for
from s3gate.transform.profile import Profile

log = logging.getLogger("s3gate.masking.worker")
PROFILE_SETS = 32  # profile sets kept unpickled (plans are cached by plan_for)
# Workers run this much nicer than the gateway process: when the pod's cores
# are all busy, the event loop (every request's latency) gets the CPU before
# the workers (throughput). Idle cores are still the workers' in full; nice
# only weighs the pod's own processes against each other (docs/deployment.md,
# "Masking workers").
WORKER_NICE = 10


class Worker:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._profiles: OrderedDict[str, list[Profile]] = OrderedDict()
        self._runs: dict[int, tuple[Masker, MaskRun]] = {}

    def serve(self) -> None:
        self._send((wire.READY,))
        while True:
            try:
                message = pickle.loads(self._conn.recv_bytes())  # noqa: S301 (the gateway)
            except EOFError:
                return  # the gateway closed the pipe: stop
            self._handle(message)

    def _handle(self, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == wire.WARM:
            for profile in self._profiles_of(str(message[1]), message[2]):
                plan_for([profile])  # compile now, not at the first request
            return
        rid = message[1]
        assert isinstance(rid, int)
        if kind == wire.WINDOW:
            self._window(rid, message)
        elif kind == wire.OPEN:
            _, _, pkey, blob, content_type, content_encoding, key, limits = message
            masker = self._masker(rid, pkey, blob, content_type, content_encoding, key, limits)
            if masker is not None:
                self._runs[rid] = (masker, MaskRun(masker))
        elif kind == wire.ABORT:
            self._runs.pop(rid, None)
        elif kind == wire.PROBE:
            entry = self._runs.get(rid)
            self._send((wire.PLAIN, rid, entry is not None and entry[1].plain_jsonl()))
        elif rid in self._runs:  # FEED / FINISH of a run that has not failed
            masker, run = self._runs[rid]
            try:
                if kind == wire.FEED:
                    data = message[2]
                    assert isinstance(data, bytes)
                    self._send((wire.OUT, rid, b"".join(run.feed(data))))
                else:
                    del self._runs[rid]
                    out = b"".join(run.finish())
                    self._send((wire.DONE, rid, out, masker.summary))
            except MaskingHeld as exc:
                held = b"".join(run.last)
                self._send((wire.HELD, rid, held, masker.summary, wire.pack_error(exc)))
            except errors.S3Error as exc:
                self._runs.pop(rid, None)
                self._send((wire.ERROR, rid, wire.pack_error(exc), masker.summary))

    def _window(self, rid: int, message: tuple[object, ...]) -> None:
        _, _, pkey, blob, content_type, content_encoding, key, limits, data = message
        masker = self._masker(rid, pkey, blob, content_type, content_encoding, key, limits)
        if masker is None:
            return
        assert isinstance(data, bytes)
        try:
            out = WindowRun(masker).run(data)
        except errors.S3Error as exc:
            self._send((wire.ERROR, rid, wire.pack_error(exc), masker.summary))
            return
        self._send((wire.DONE, rid, out, masker.summary))

    def _masker(
        self,
        rid: int,
        pkey: object,
        blob: object,
        content_type: object,
        content_encoding: object,
        key: object,
        limits: object,
    ) -> Masker | None:
        """A masker for run `rid`, or None after answering ERROR."""
        try:
            return Masker(
                self._profiles_of(str(pkey), blob),
                content_type=content_type,  # type: ignore[arg-type]
                content_encoding=content_encoding,  # type: ignore[arg-type]
                key=str(key),
                limits=limits,  # type: ignore[arg-type]
            )
        except Exception as exc:
            log.error("masking failed: %s", type(exc).__name__)
            self._send((wire.ERROR, rid, wire.pack_error(errors.InternalError()), None))
            return None

    def _profiles_of(self, pkey: str, blob: object) -> list[Profile]:
        cached = self._profiles.get(pkey)
        if cached is None:
            # The gateway sends a set's pickle until it knows this worker has
            # it (`MaskingPool.blob_for` remembers fewer sets than we keep).
            assert isinstance(blob, bytes)
            cached = pickle.loads(blob)  # noqa: S301 (the gateway)
            self._profiles[pkey] = cached
            while len(self._profiles) > PROFILE_SETS:
                self._profiles.popitem(last=False)
        self._profiles.move_to_end(pkey)
        return cached

    def _send(self, message: tuple[object, ...]) -> None:
        self._conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def main(conn: Connection) -> None:
    """The worker process's entry point (`multiprocessing` spawn target)."""
    # Ctrl-C reaches the whole process group: the gateway stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WORKER_NICE)  # raising niceness needs no privilege
    logging.basicConfig(level=logging.WARNING)
    Worker(conn).serve()
