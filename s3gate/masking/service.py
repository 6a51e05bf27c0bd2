"""What a request needs for masking: limits, a spool, the shared view store."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from s3gate.masking.pool import MaskingPool
from s3gate.masking.pooled import PooledMasker
from s3gate.masking.sources import Sources
from s3gate.masking.spool import Spool
from s3gate.masking.staging import Staging
from s3gate.masking.upstreamput import Sizing
from s3gate.masking.views import ViewStore
from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile
from s3gate.transform.settings import MaskingSettings


class MaskingService:
    def __init__(
        self,
        settings: MaskingSettings,
        data_dir: Path,
        staging_keys: Mapping[str, bytes],
        active_staging_key: str,
        view_index_cache_entries: int = 0,
    ) -> None:
        self.limits = settings.limits()
        # When a masked whole goes to the store in parts (masking.upstreamput).
        self.sizing = Sizing.of(settings)
        self.staging = Staging(
            staging_keys, active_staging_key, settings.staged_upload_expiry_seconds
        )
        self._spool_dir = data_dir / "spool"
        # Views live in the store (shared); builds spool here on their way there.
        self.views = ViewStore(
            self._spool_dir,
            self.limits,
            view_index_cache_entries,
            maskers=self.masker,
            sizing=self.sizing,
        )
        # What writers sent, for their own listings (masking/sources.py); its
        # keys derive from the staged uploads' (shared by the replicas).
        self.sources = Sources(staging_keys[active_staging_key], self.views.counts)
        workers = settings.workers
        if workers is None:
            workers = len(os.sched_getaffinity(0))
        # The pool runs once `start()` has been awaited (app lifespan); until
        # then, and with `masking.workers: 0`, masking runs inline.
        self.pool: MaskingPool | None = MaskingPool(workers) if workers > 0 else None

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool.start()

    async def warm(self, profiles: Sequence[Profile]) -> None:
        """Compile these profiles' plans in every worker now (bundle load)."""
        if self.pool is not None and self.pool.running:
            await self.pool.warm(profiles)

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.stop()

    def status(self) -> dict[str, object]:
        """The pool's part of `/_s3gate/status` (`masking`): `workers` asked
        for (0: inline), `alive`, their `pids`, `restarts` since start."""
        if self.pool is None:
            return {"workers": 0, "alive": 0, "pids": [], "restarts": 0}
        now = self.pool.status()
        return {
            "workers": now.workers,
            "alive": now.alive,
            "pids": list(now.pids),
            "restarts": now.restarts,
        }

    def masker(
        self,
        profiles: Sequence[Profile],
        *,
        content_type: str | None,
        content_encoding: str | None,
        key: str,
    ) -> Masker | PooledMasker:
        if self.pool is not None and self.pool.running:
            return PooledMasker(
                self.pool,
                profiles,
                content_type=content_type,
                content_encoding=content_encoding,
                key=key,
                limits=self.limits,
            )
        return Masker(
            profiles,
            content_type=content_type,
            content_encoding=content_encoding,
            key=key,
            limits=self.limits,
        )

    def spool(self) -> Spool:
        return Spool(self._spool_dir)
