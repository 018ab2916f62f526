"""asyncio support for the ``coap`` module: serve and send without blocking
other tasks and without busy polling. Frozen into the firmware images and
the unix build; ``asyncio`` is imported on first use. See docs/api.md,
"coap_asyncio".
"""

from typing import Optional, Tuple, Union

from coap import CoapClientSession

__all__ = ["serve", "request", "BATCH"]

_Text = Union[str, bytes]
_Value = Union[str, bytes, bytearray, memoryview, int, bool]

#: Datagrams handled per wake of a socket by :func:`serve`.
BATCH: int


async def serve(batch: int = ...) -> None:
    """Answers requests and runs the module's timers (retransmissions,
    give-ups) while other tasks run: ``asyncio.create_task(serve())``.
    Waits in asyncio's poller on the module's sockets and sleeps until the
    next due timer; handles at most ``batch`` datagrams per wake. Runs until
    cancelled or until ``coap.deinit()``; an exception the response handler
    raises ends it and propagates. ``RuntimeError`` while ``coap.read()`` or
    another ``serve()`` runs (and ``read()`` raises ``RuntimeError`` while
    this runs)."""
    ...


async def request(
    session: CoapClientSession,
    method: int,
    *,
    uri_path: Optional[_Text] = None,
    payload: Optional[_Value] = None,
    content_format: int = -1,
    token: Optional[bytes] = None,
    timeout_ms: Optional[int] = None,
) -> Tuple[int, int, bytes, bytes]:
    """Sends a confirmable request and returns ``(code, type, token,
    payload)`` of its response, which never reaches the response handler.
    Needs :func:`serve` running. ``token`` is 8 random bytes when not given.
    ``OSError(ETIMEDOUT)`` when ``timeout_ms`` expires (``None``: when the
    protocol gives up, about 93 s), ``OSError(ECONNRESET)`` when the peer
    rejects it with RST. A timeout or a cancelled task cancels the request:
    no more retransmissions, and a late response is answered like an unknown
    one and reaches no handler. Argument errors are those of
    ``session.send_request()``."""
    ...
