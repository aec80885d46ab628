"""A local TCP proxy that behaves like a slow link: a bandwidth cap and a round-trip delay.

Each direction queues what it reads, sends it no faster than ``mbit_per_s``
and delivers every chunk ``rtt_ms / 2`` after it left, in order, so a browser
talking to JupyterLab through it sees what a remote JupyterHub or Binder user
sees. Used by ``latency.py``; WebSockets pass through unchanged (it is TCP).

    with ThrottledProxy(target_port, mbit_per_s=20, rtt_ms=40) as proxy:
        proxy.port  # connect here instead of target_port
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time

__all__ = ["ThrottledProxy"]

CHUNK = 16 * 1024


def _quiet_about_cancelling(loop, context) -> None:
    """Connections cancelled as the proxy closes are not errors; anything else is reported."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


class ThrottledProxy:
    def __init__(self, target_port: int, mbit_per_s: float = 20.0, rtt_ms: float = 40.0,
                 host: str = "127.0.0.1"):
        if mbit_per_s <= 0 or rtt_ms < 0:
            raise ValueError(f"expected mbit_per_s > 0 and rtt_ms >= 0, got {mbit_per_s}, {rtt_ms}")
        self.target = (host, int(target_port))
        self.bytes_per_s = mbit_per_s * 1e6 / 8
        self.one_way = rtt_ms / 2000
        self.host = host
        with socket.socket() as s:
            s.bind((host, 0))
            self.port = s.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_about_cancelling)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="throttled-proxy")
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "ThrottledProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self.host, self.port), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        async def shut():
            self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:  # open connections (the browser's WebSockets) end here
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w),
                             return_exceptions=True)

    async def _pipe(self, reader, writer):
        """Read as it comes; send each chunk after its serialisation time on the capped link plus
        the one-way delay, in order."""
        queue: asyncio.Queue = asyncio.Queue()
        link_free = 0.0

        async def deliver():
            while True:
                at, data = await queue.get()
                if data is None:
                    break
                wait = at - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                now = time.perf_counter()
                link_free = max(link_free, now) + len(data) / self.bytes_per_s
                queue.put_nowait((link_free + self.one_way, data))
        except asyncio.CancelledError:  # the proxy is closing
            sender.cancel()
            raise
        queue.put_nowait((0.0, None))
        await sender
