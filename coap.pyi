"""CoAP (RFC 7252) server and client for MicroPython, with the API of Pycom's
``network.Coap``.

``import coap``, ``from coap import Coap`` and ``from network import Coap`` all
give this module. Every function except :func:`init` raises
``RuntimeError("Coap module has not been initialized!")`` before ``init()``.
What the application adds (resources, values, attributes, sessions,
requests) is bounded only by the heap: a call the heap cannot serve raises
``MemoryError`` and changes nothing.
See docs/api.md for the full reference.
"""

from typing import Callable, List, Optional, Union, overload

__all__ = [
    "Coap", "CoapResource", "CoapClientSession",
    "init", "deinit", "add_resource", "remove_resource", "get_resource", "read",
    "register_response_handler", "new_client_session", "remove_client_session",
    "get_client_sessions",
    "REQUEST_GET", "REQUEST_PUT", "REQUEST_POST", "REQUEST_DELETE",
    "MEDIATYPE_TEXT_PLAIN", "MEDIATYPE_APP_LINK_FORMAT", "MEDIATYPE_APP_XML",
    "MEDIATYPE_APP_OCTET_STREAM", "MEDIATYPE_APP_RDF_XML", "MEDIATYPE_APP_EXI",
    "MEDIATYPE_APP_JSON", "MEDIATYPE_APP_CBOR", "PROTOCOL_UDP", "TIMEOUT", "VALUE_MAX",
    "REMOTE_BUDGET",
]

_Text = Union[str, bytes]
_Buffer = Union[bytes, bytearray, memoryview]
_Value = Union[str, bytes, bytearray, memoryview, int, bool]

REQUEST_GET: int = 1
"""Method bit flag for GET (not the CoAP code)."""
REQUEST_PUT: int = 2
"""Method bit flag for PUT (not the CoAP code)."""
REQUEST_POST: int = 4
"""Method bit flag for POST (not the CoAP code)."""
REQUEST_DELETE: int = 8
"""Method bit flag for DELETE (not the CoAP code)."""

MEDIATYPE_TEXT_PLAIN: int = 0
MEDIATYPE_APP_LINK_FORMAT: int = 40
MEDIATYPE_APP_XML: int = 41
MEDIATYPE_APP_OCTET_STREAM: int = 42
MEDIATYPE_APP_RDF_XML: int = 43
MEDIATYPE_APP_EXI: int = 47
MEDIATYPE_APP_JSON: int = 50
MEDIATYPE_APP_CBOR: int = 60

PROTOCOL_UDP: int = 1
"""The only protocol."""

TIMEOUT: int = 255
"""``type`` passed to the response handler when a request gave up after
MAX_RETRANSMIT retransmissions (``code`` is then 0, ``payload`` ``b""``)."""

VALUE_MAX: int = 16384
"""The largest resource value in bytes. A value that does not fit
one response is served block-wise (RFC 7959, automatic); a PUT/POST of up to
this many bytes is received in Block1 blocks. Larger values raise
``ValueError``; larger PUT/POST payloads get 4.13 with Size1. It also bounds
the client: a ``send_request`` payload up to it that does not fit one
message is sent block-wise (Block1), and a block-wise answer to a GET is
fetched whole (Block2) up to it."""

REMOTE_BUDGET: int
"""The default of :func:`init`'s ``remote_budget``: bytes that remote peers
may make the module hold, together (values grown by PUT/POST beyond what the
application stored). A request beyond it gets 4.13."""

import coap as Coap  # the module itself: ``from coap import Coap; Coap.init()``


class CoapResource:
    """A resource of the server. Made only by :func:`add_resource`; calling the
    type raises ``TypeError``. Once the resource is removed (by
    :func:`remove_resource`, a remote DELETE or :func:`deinit`) the object is
    detached: :meth:`value` returns ``None``, other methods raise
    ``RuntimeError("Resource has been removed")``.

    Every parameter may also be passed by the name Pycom's API page gives
    it (``value(value=...)``, ``add_attribute(name=..., value=...)``,
    ``callback(operation=..., enable=...)``)."""

    def add_attribute(self, name: _Text, value: _Value) -> None:
        """Add a link-format attribute shown in ``/.well-known/core`` (in the
        order added). ``name``: 1..255 of letters, digits and ``!#$&+-.^_`|~``
        (else ``ValueError``). ``value`` (stored like :meth:`value`'s) is
        written as is if it is an RFC 6690 ptoken, else quoted; ``title`` is
        always quoted. Raises
        ``MemoryError`` when the heap cannot hold it."""

    @overload
    def value(self) -> Optional[bytes]:
        """The value as ``bytes`` (``None`` once removed)."""
    @overload
    def value(self, value: _Value) -> None:
        """Store ``value`` (by position or as ``value=``): ``str`` as UTF-8,
        buffers copied, ``int``/``bool`` as decimal text; returns ``None``
        and increments the ETag. Raises ``TypeError`` for other types
        (``None`` included), ``ValueError`` above :data:`VALUE_MAX`,
        ``MemoryError`` when the heap cannot hold it (the old value
        stays)."""

    def callback(self, operation: int, enable: bool) -> None:
        """Enable (``enable`` truthy) or disable the methods in
        ``operation``, an OR of ``REQUEST_*``. Disabled methods answer 4.05;
        a new resource has none enabled. Other bits raise ``ValueError``."""


class CoapClientSession:
    """A client session to one server. Made only by
    :func:`new_client_session`; detached (methods raise ``RuntimeError``)
    after :func:`remove_client_session` or :func:`deinit`."""

    def send_request(
        self,
        method: int,
        *,
        uri_path: Optional[_Text] = None,
        content_format: int = -1,
        payload: Optional[Union[_Text, _Buffer, int]] = None,
        token: Optional[Union[_Text, _Buffer]] = None,
        include_options: bool = True,
        observe: bool = False,
    ) -> int:
        """Queue a confirmable request and return its message ID.

        ``method``: exactly one ``REQUEST_*`` (else
        ``ValueError('Invalid "method" parameter value!')``). ``uri_path``
        ``"a/b?x=1"`` sends Uri-Path ``a``, ``b`` and Uri-Query ``x=1`` (one
        leading ``/`` ignored, ``%XX`` decoded; ``None``/``""``: no
        Uri-Path). ``content_format``: -1 (none) or 0..65535. ``token``: at
        most 8 bytes (``ValueError``). ``include_options=False`` sends no
        option at all. A payload that does not fit one message is sent
        block-wise (RFC 7959 Block1), up to :data:`VALUE_MAX` bytes; a larger
        one, or a ``uri_path`` that leaves no room for a block, raises
        ``ValueError``; ``MemoryError`` when the heap cannot hold the request.
        A block-wise (Block2) answer to a GET is fetched to its end and
        reaches the handler once, whole.
        It is sent once no other confirmable request to the same address and
        port, from any session, awaits its acknowledgement (NSTART = 1).
        Responses reach the handler set by
        :func:`register_response_handler` while :func:`read` runs.

        ``observe=True`` (a GET with options only, else ``ValueError``)
        registers an observation (RFC 7641): an empty or absent ``token`` is
        replaced by 4 random bytes, and every fresh notification reaches the
        handler with that token, until :meth:`cancel_observe`, a notification
        that is not 2.xx or has no Observe option, or the server's refusal (an
        answer without Observe is a plain response). Stale notifications
        are acknowledged and dropped. The handler cannot tell a notification
        from a plain response except by its token."""

    def cancel_observe(self, token: Union[_Text, _Buffer]) -> bool:
        """End the observation registered with ``token``: a GET with
        Observe 1 on that token goes, and from now on nothing reaches the
        handler for it (notifications still arriving get RST). ``False`` if
        the session has no observation with that token. ``MemoryError``
        when the heap cannot hold the deregistration."""

    def get_details(self) -> List[Union[str, int]]:
        """``[destination, port]``."""


def init(
    address: Optional[str] = None,
    *,
    port: int = 5683,
    service_discovery: bool = False,
    remote_budget: int = REMOTE_BUDGET,
) -> None:
    """Start the module. ``address`` (IPv4 literal) runs a server on
    ``address:port``; without it the module is a client only.
    ``service_discovery=True`` also listens on 224.0.1.187 (needs
    ``address``). ``remote_budget``: bytes that remote peers may make the
    module hold, 0..2**32-1 (default :data:`REMOTE_BUDGET`). Raises
    ``RuntimeError("Coap module already initialized!")`` if already
    started, ``ValueError`` for a bad address, port or budget, ``OSError``
    if the socket cannot be bound."""


def deinit() -> None:
    """Stop the module: wake a blocked :func:`read` in another thread, close
    every socket, detach every resource and session object and give their
    memory back. :func:`init` can be called again afterwards."""


def add_resource(
    uri: _Text,
    *,
    media_type: int = -1,
    max_age: int = -1,
    value: _Value = 0,
    etag: bool = False,
    observable: bool = False,
) -> CoapResource:
    """Create a resource and return it. One leading ``/`` in ``uri`` is
    ignored. ``media_type``: -1 (none) or 0..65535; ``max_age``: -1 (none) or
    0..2**32-1; ``value`` as for :meth:`CoapResource.value` (default
    ``b"0"``); ``etag``: send a counter ETag; ``observable``: clients may
    observe it (RFC 7641): ``obs`` in ``/.well-known/core``, a GET with
    Observe 0 registers, and every change of the value is notified (sent
    by :func:`read`). The resource answers 4.05
    until :meth:`CoapResource.callback` enables methods. A duplicate raises
    ``RuntimeError("Resource already exists or cannot be created!")``;
    ``MemoryError`` when the heap cannot hold it."""


def remove_resource(uri: _Text) -> None:
    """Remove a resource (an unknown uri does nothing); its object is
    detached."""


def get_resource(uri: _Text) -> Optional[CoapResource]:
    """The object :func:`add_resource` returned for ``uri``, or ``None``."""


def read(timeout: int = 0) -> int:
    """Handle waiting datagrams, else wait for some; return how many were
    handled. ``timeout`` in ms: 0 waits without limit until at least one
    datagram is handled; > 0 returns 0 after that long. Datagrams that keep
    arriving do not hold it past its timeout. Retransmissions and give-ups
    happen on time. Runs the response handler (its exceptions propagate).
    Waits with the GIL released. A negative timeout raises ``ValueError``;
    a second thread calling it, or the handler calling it, raises
    ``RuntimeError``."""


def register_response_handler(callback: Optional[Callable[[int, int, int, bytes, bytes], None]]) -> None:
    """Set ``callback(code, id, type, token, payload)``, called inside
    :func:`read` once for every response to our requests. ``code`` is the
    raw code byte (2.05 -> 69), ``type`` 0..3 (CON, NON, ACK, RST) or
    :data:`TIMEOUT`; for an RST or a timeout ``code`` is 0 and ``id`` and
    ``token`` are those of the request. ``None`` stops delivery."""


def new_client_session(destination: str, port: int = 5683, protocol: int = PROTOCOL_UDP) -> CoapClientSession:
    """A new session to the server at ``destination`` (IPv4 literal):
    ``port`` 1..65535, ``protocol`` only :data:`PROTOCOL_UDP`. Sessions may
    be created at any time, also while :func:`read` blocks; ``MemoryError``
    when the heap cannot hold one."""


def remove_client_session(destination: str, port: int = 5683, protocol: int = PROTOCOL_UDP) -> None:
    """Remove the first session to ``destination:port`` (its requests are
    dropped, its object detached). Raises
    ``RuntimeError("Client Session has not been removed")`` if none
    matches."""


def get_client_sessions() -> List[CoapClientSession]:
    """A new list of the live sessions, in creation order."""
