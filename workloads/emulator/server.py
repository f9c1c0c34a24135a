"""Running the emulator: in a background thread for tests and benchmarks, or in the foreground for the CLI.

`EmulatorServer` owns a thread with its own event loop, so synchronous code (the adapters, pytest) can talk to
it; leaving the `with` block shuts the site down, closes the loop and joins the thread, leaving nothing running.
It binds 127.0.0.1 unless told otherwise: the emulator has no real auth and should not face a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

from aiohttp import web

from workloads.emulator.app import make_app
from workloads.emulator.faults import Faults
from workloads.emulator.ratelimit import RateLimits
from workloads.emulator.state import STATE, PageWeight
from workloads.world import World, WorldConfig

_START_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 2.0


class EmulatorServer:
    """The emulator on a background thread; use as a context manager, read `.base_url`."""

    def __init__(
        self,
        world_config: WorldConfig | None = None,
        limits: RateLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        revoked_tokens: frozenset[str] = frozenset(),
        page_weight: PageWeight = "realistic",
    ) -> None:
        self._app = make_app(World(world_config), limits, clock, faults, revoked_tokens, page_weight)
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if not self._ready.is_set() or self._error is not None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self._host}:{self._port}"

    @property
    def faults_served(self) -> dict[str, int]:
        """How many answers of each fault kind were spoiled so far (empty without faults)."""
        plan = self._app[STATE].faults
        return dict(plan.served) if plan is not None else {}

    @property
    def is_running(self) -> bool:
        """Whether the server thread is alive (False before start and after stop)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EmulatorServer:
        """Start serving; returns once the port is bound (RuntimeError if it could not be)."""
        if self._thread is not None:
            raise RuntimeError("the emulator was already started")
        self._thread = threading.Thread(target=self._run, name="ebbflow-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the emulator could not start on {self._host}:{self._port}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing left to stop
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT_S + _SHUTDOWN_TIMEOUT_S)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            # A failure is kept in self._error and re-raised by start(), not printed by the thread.
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._serve())
        finally:
            self._ready.set()  # never leave start() waiting, even when setup failed
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stop.wait()
        except BaseException as err:
            self._error = err
            raise
        finally:
            await runner.cleanup()


def serve(
    world_config: WorldConfig | None = None,
    limits: RateLimits | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    print_fn: Callable[..., None] | None = print,
    faults: Faults | None = None,
    page_weight: PageWeight = "realistic",
) -> None:
    """Serve in the foreground until Ctrl-C (for `ebbflow emulate`)."""
    app = make_app(World(world_config), limits, faults=faults, page_weight=page_weight)
    web.run_app(app, host=host, port=port, access_log=None, print=print_fn, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
