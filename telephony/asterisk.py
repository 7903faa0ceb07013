"""Asterisk Manager Interface (AMI) adapter: keeps one AMI session alive and turns its events into
the normalised call events of ``dispatch.calls.events`` (mapping rules: ``telephony.ami_mapping``).

Threads and the sink contract
    Daemon threads: the *reader* (the library's listen loop, one per TCP connection) only parses
    packets and puts events on a ``queue.Queue``; the *dispatcher* drains that queue, runs the
    ``AmiCallTracker`` and calls ``sink(event)``; the *supervisor* connects, logs in, resyncs and is
    the watchdog: it sends the heartbeat, notices a dead reader or an unanswered Ping, reconnects.
    So the sink is called from ONE adapter thread, in order, and a slow sink never stalls the
    socket. A sink that raises is logged and the event dropped (the adapter carries on). From
    asyncio, pass a sink that hops onto the loop:
    ``lambda e: loop.call_soon_threadsafe(queue.put_nowait, e)``.
    ``originate()`` blocks up to ``ping_timeout`` s; call it via ``asyncio.to_thread``.

Why the library is wrapped rather than used as is (asterisk-ami 0.1.7, unmaintained)
    Kept: its packet framing and listen loop (``AMIClient._next_pack``/``listen``), ``Event`` and
    ``Response`` parsing and ``Action`` serialisation; they are correct for AMI. Overridden, in a
    subclass built afresh for every connection (the library cannot be reused after a disconnect):

    * ``connect``: the library sets a 3 s socket timeout, so 3 s without traffic raises in ``recv``
      and silently ends the reader thread. We keep the timeout for the TCP connect only, then read
      with no timeout; a dead peer is detected by our heartbeat (``Ping`` every ``ping_interval`` s,
      no reply within ``ping_timeout`` s -> connection dead -> reconnect) plus TCP keepalive.
    * ``fire_recv_pack``/``listen``: any exception in parsing or in a handler propagated out of the
      listen loop and killed the reader (a bad banner even killed it without a disconnect callback).
      Every packet is now handled under ``try``; a packet with junk before its ``Event:``/
      ``Response:`` line is salvaged; and the end of the reader always wakes the supervisor.
    * ``send_action``/``fire_recv_reponse``: ``FutureResponse`` calls an unimported ``traceback``
      when a callback fails and uses ``Condition.notifyAll`` (a DeprecationWarning that, under
      ``-W error``, leaves its lock held). Replaced by a ``threading.Event`` per ActionID.
    * ``send``: ``socket.send`` may write part of a packet and was unlocked; now ``sendall`` under a
      lock (heartbeat and ``originate`` send from different threads).
    * ``disconnect``: ``close()`` does not wake a thread blocked in ``recv`` on Linux; we
      ``shutdown()`` first so the reader ends at once.
    * ``AutoReconnect`` is not used (it pings and re-logs-in on the same dead socket forever); the
      supervisor below reconnects with exponential backoff (``backoff_initial`` doubling up to
      ``backoff_max``, jittered x0.5-1) and logs login rejections clearly.

Reconnect without losing or double-counting calls
    After every login the supervisor asks ``CoreShowChannels``; the tracker ends the calls it
    thought were up but that have no channel left and adopts live calls it has not seen. Events
    replayed on the new session are deduplicated by the tracker (per Linkedid/Uniqueid), so a call
    yields at most one ringing per agent leg, one answered and exactly one ended event.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import random
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asterisk.ami import AMIClient
from asterisk.ami.action import Action, LoginAction
from asterisk.ami.event import Event
from asterisk.ami.response import Response

from dispatch.calls.events import CallEvent, EventSink
from dispatch.ports import DeliveryError
from dispatch.residents.phones import dialable
from telephony.ami_mapping import AmiCallTracker

if TYPE_CHECKING:
    from dispatch.settings import AsteriskSettings

__all__ = ["AmiAdapter", "AmiCalls"]

log = logging.getLogger(__name__)

# Event classes the mapping needs (Login "Events:" mask): call = channels/dial/hangup, agent =
# queue events, cdr, dialplan = Newexten/VarSet (queue-exit signals), dtmf = IVR digits.
_EVENT_CLASSES = "call,agent,cdr,dialplan,dtmf"


class _ConnectionLost(Exception):
    pass


class _LoginRejected(Exception):
    pass


class _Pending:
    """The reply awaited for one ActionID (replaces the library's FutureResponse)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: Response | None = None


@dataclass(frozen=True)
class _ResyncStart:
    action_id: str


_RESYNC_ABORT = object()
_STOP = object()


class _Client(AMIClient):
    """One AMI TCP session, with the library's faults fixed (see the module docstring)."""

    def __init__(
        self, host: str, port: int, *, connect_timeout: float, name: str, on_event: Callable[[Event], None]
    ) -> None:
        super().__init__(address=host, port=port, timeout=connect_timeout, buffer_size=64 * 1024)
        self.name = name
        self.banner = threading.Event()
        self.resync_id = ""  # the ActionID of this session's CoreShowChannels (see AmiAdapter._open)
        self._on_event_cb = on_event
        self._send_lock = threading.Lock()
        self._ids = itertools.count()
        self._pending: dict[str, _Pending] = {}
        self.finished = threading.Event()  # the library creates it in connect(); waiters need it now

    def next_action_id(self) -> str:
        return f"{self.name}-{next(self._ids)}"

    def connect(self) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(
            self._address, self._port, type=socket.SOCK_STREAM
        )[0]
        # Published before connect() so disconnect() from stop() can abort a slow connect.
        sock = self._socket = socket.socket(family, kind, proto)
        sock.settimeout(self._timeout)  # bounds the TCP connect only...
        sock.connect(address)
        sock.settimeout(None)  # ...reads block: silence is judged by the heartbeat, not by recv
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        with contextlib.suppress(OSError, AttributeError):  # a peer that stops reading must not
            seconds, fraction = divmod(float(self._timeout), 1.0)  # block sendall() forever
            timeval = struct.pack("ll", int(seconds), int(fraction * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        self._thread = threading.Thread(target=self.listen, name=f"ami-reader-{self.name}", daemon=True)
        self._thread.start()

    def listen(self) -> None:
        try:
            super().listen()
        except Exception as exc:  # raised before the library's own try: EOF or a non-AMI banner
            log.warning("AMI %s: session ended before/at the banner (%r)", self.name, exc)
        finally:
            self.finished.set()
            self.banner.set()  # wake a login waiting for the banner; it checks `finished`
            for pending in list(self._pending.values()):
                pending.done.set()  # waiters see "no reply" at once instead of timing out

    def _fire_on_connect(self, **kwargs) -> None:
        self.banner.set()

    def _fire_on_disconnect(self, **kwargs) -> None:
        error = kwargs.get("error")
        if error is not None and not isinstance(error, StopIteration):
            log.info("AMI %s: reader stopped: %r", self.name, error)

    def send(self, pack) -> None:
        data = (str(pack) + "\r\n").encode(self.encoding)
        if self._socket is None:
            raise OSError("not connected")
        with self._send_lock:
            self._socket.sendall(data)

    def send_action(self, action: Action, callback=None) -> _Pending:
        action_id = action.keys.setdefault("ActionID", self.next_action_id())
        pending = self._pending[action_id] = _Pending()
        try:
            self.send(action)
        except OSError:
            self._pending.pop(action_id, None)
            raise
        return pending

    def fire_recv_reponse(self, response: Response) -> None:  # (sic) the library's name
        if response.status.lower() == "goodbye":
            self.finished.set()
        pending = self._pending.pop(response.keys.get("ActionID", ""), None)
        if pending is not None:
            pending.response = response
            pending.done.set()

    def fire_recv_event(self, event: Event) -> None:
        self._on_event_cb(event)

    def fire_recv_pack(self, pack: str) -> None:
        try:
            if not (Response.match(pack) or Event.match(pack)):
                salvaged = _salvage(pack)
                log.debug("AMI %s: skipped non-AMI data %r", self.name, pack[:120])
                if salvaged is None:
                    return
                pack = salvaged
            super().fire_recv_pack(pack)
        except Exception:
            log.warning("AMI %s: dropped unparseable packet %r", self.name, pack[:200], exc_info=True)

    def disconnect(self) -> None:
        self.finished.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv()
            with contextlib.suppress(OSError):
                self._socket.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)


def _salvage(pack: str) -> str | None:
    """Junk glued in front of a packet (no blank line between): keep from the first AMI line."""
    lines = pack.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("Event: ", "Response: ")):
            return "\r\n".join(lines[i:])
    return None


def _header_safe(*values: str) -> None:
    for value in values:
        if "\r" in value or "\n" in value:
            raise ValueError(f"{value!r}: line breaks would inject AMI headers")


class AmiAdapter:
    """``start()``/``stop()`` an AMI session feeding ``sink``; ``connected`` and ``last_error`` for
    health checks; ``originate()`` for callback calls. ``tracker`` lets the caller configure the
    mapping (e.g. ``AmiCallTracker(contexts={"from-trunk"})``)."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        sink: EventSink,
        *,
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
        backoff_max: float = 30.0,
        backoff_initial: float = 0.5,
        tracker: AmiCallTracker | None = None,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self._sink = sink
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._backoff_max = backoff_max
        self._backoff_initial = backoff_initial
        self._tracker = tracker or AmiCallTracker()
        self._events: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._client: _Client | None = None
        self._threads: list[threading.Thread] = []
        self._sessions = itertools.count(1)
        self.last_error: str | None = None  # for health checks: why we are not connected

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if any(t.is_alive() for t in self._threads):
            return
        self._stop.clear()
        self._events = queue.Queue()
        self._threads = [
            threading.Thread(target=self._dispatch, name="ami-dispatcher", daemon=True),
            threading.Thread(target=self._supervise, name="ami-supervisor", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.send_action(Action("Logoff"))
            client.disconnect()
        self._events.put(_STOP)  # after what is already queued: those events still reach the sink
        for thread in self._threads:
            if thread is threading.current_thread():
                continue  # stop() called from the sink: the dispatcher exits after this event
            thread.join(timeout)
            if thread.is_alive():
                log.warning("AMI adapter: %s did not stop within %.1fs", thread.name, timeout)
        self._connected.clear()

    def originate(
        self,
        channel: str,
        exten: str,
        context: str,
        caller_id: str,
        variables: dict | None = None,
        timeout_s: int = 30,
    ) -> bool:
        """Queue a callback call (``Async: true``): True once Asterisk accepted it. The call's
        progress then arrives as normal events (and ``OriginateResponse``)."""
        variables = {str(k): str(v) for k, v in (variables or {}).items()}
        _header_safe(channel, exten, context, caller_id, *variables, *variables.values())
        client = self._client
        if client is None or not self.connected:
            log.warning("AMI originate to %s refused: not connected (%s)", channel, self.last_error)
            return False
        keys = {
            "Channel": channel,
            "Exten": exten,
            "Context": context,
            "Priority": "1",
            "CallerID": caller_id,
            "Timeout": str(int(timeout_s * 1000)),  # AMI wants milliseconds
            "Async": "true",
        }
        response = self._request(client, Action("Originate", keys, variables))
        if response is None or response.is_error():
            message = response.keys.get("Message") if response is not None else "no reply"
            log.warning("AMI originate to %s failed: %s", channel, message)
            return False
        return True

    # --- supervisor: connect, login, resync, heartbeat, reconnect ---------------------------------

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                client = self._open()
                failures = 0
                self._resync(client)
                self._heartbeat(client)
            except _LoginRejected as exc:
                self.last_error = f"login rejected: {exc}"
                log.error(
                    "AMI login to %s:%s as %r rejected: %s (check manager.conf secret/permit)",
                    self.host,
                    self.port,
                    self.username,
                    exc,
                )
            except (OSError, _ConnectionLost) as exc:
                self.last_error = f"connection: {exc}"
                if not self._stop.is_set():
                    log.warning("AMI connection to %s:%s lost/failed: %s", self.host, self.port, exc)
            except Exception as exc:  # never let the supervisor die
                self.last_error = f"unexpected: {exc!r}"
                log.exception("AMI supervisor error")
            finally:
                self._connected.clear()
                if (client := self._client) is not None:
                    client.disconnect()
                    self._client = None
            if self._stop.is_set():
                break
            delay = min(self._backoff_max, self._backoff_initial * 2**failures) * random.uniform(0.5, 1.0)
            failures += 1
            log.info("AMI reconnecting to %s:%s in %.1fs", self.host, self.port, delay)
            self._stop.wait(delay)

    def _open(self) -> _Client:
        client = _Client(
            self.host,
            self.port,
            connect_timeout=self._ping_timeout,
            name=f"s{next(self._sessions)}",
            on_event=self._on_event,
        )
        self._client = client  # published first so stop() can cut a connect/login short
        client.connect()
        if not client.banner.wait(self._ping_timeout) or client.finished.is_set():
            raise _ConnectionLost("closed before/at the banner, or no AMI banner (not a manager port?)")
        # The calls to check against the channel list are the ones known before this session:
        # events of this session may arrive as soon as the login is answered, before the resync
        # asks, and the calls they show are alive by definition.
        client.resync_id = client.next_action_id()
        self._events.put(_ResyncStart(client.resync_id))
        try:
            login = LoginAction(self.username, self._secret)
            login.keys["Events"] = _EVENT_CLASSES
            response = self._request(client, login)
            if response is None:
                raise _ConnectionLost("no reply to Login")
            if response.is_error():
                raise _LoginRejected(response.keys.get("Message", "error"))
        except BaseException:
            self._events.put(_RESYNC_ABORT)
            raise
        log.info("AMI logged in to %s:%s as %r (%s)", self.host, self.port, self.username, client.name)
        return client

    def _resync(self, client: _Client) -> None:
        action_id = client.resync_id  # its _ResyncStart was queued before the login (see _open)
        self._connected.set()
        self.last_error = None
        response = self._request(client, Action("CoreShowChannels", {"ActionID": action_id}))
        if response is None or response.is_error():
            self._events.put(_RESYNC_ABORT)
            if client.finished.is_set():
                raise _ConnectionLost("closed during resync")
            log.warning("AMI CoreShowChannels failed; calls ended while disconnected stay open")

    def _heartbeat(self, client: _Client) -> None:
        while not self._stop.is_set():
            if client.finished.wait(self._ping_interval):
                raise _ConnectionLost("closed by peer")
            if self._stop.is_set():
                return
            if self._request(client, Action("Ping")) is None:
                raise _ConnectionLost(f"no reply to Ping within {self._ping_timeout}s")

    def _request(self, client: _Client, action: Action) -> Response | None:
        try:
            pending = client.send_action(action)
        except OSError as exc:
            log.debug("AMI %s: send %s failed: %s", client.name, action.name, exc)
            return None
        pending.done.wait(self._ping_timeout)
        return pending.response

    # --- reader -> dispatcher -> sink -------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Runs on the reader thread: only enqueue, so the socket is always drained promptly."""
        try:
            self._events.put(({"Event": event.name, **event.keys}, datetime.now(UTC)))
            if self._events.qsize() == 10_000:
                log.warning("AMI: 10000 events waiting for the sink; is it blocking?")
        except Exception:
            log.exception("AMI: could not enqueue %s", getattr(event, "name", "?"))

    def _dispatch(self) -> None:
        tracker = self._tracker
        last_tick = datetime.now(UTC)
        while True:
            try:
                item = self._events.get(timeout=0.25)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            out: list[CallEvent] = []
            try:
                if isinstance(item, tuple):
                    out = tracker.feed(item[0], received_at=item[1])
                elif isinstance(item, _ResyncStart):
                    tracker.begin_resync(item.action_id)
                elif item is _RESYNC_ABORT:
                    tracker.abort_resync()
                now = datetime.now(UTC)
                if (now - last_tick).total_seconds() >= 0.25:
                    last_tick = now
                    out += tracker.tick(now)
            except Exception:
                log.exception("AMI: tracker failed on %r", item)
            for call_event in out:
                try:
                    self._sink(call_event)
                except Exception:
                    log.exception("AMI: sink raised on %s; event dropped", type(call_event).__name__)


class AmiCalls:
    """Rating callbacks placed by AMI ``Originate`` (a :class:`dispatch.ports.CallPlacer`).

    The answered call enters the dialplan at ``callback_context``/``callback_exten`` with the
    channel variables ``SANSHE_ORDER`` and ``SANSHE_OUTBOX`` set, so the deployment's rating IVR
    knows which order it is about. Not connected, or refused by Asterisk: a temporary failure
    (the outbox tries again later).
    """

    def __init__(self, adapter: AmiAdapter, settings: AsteriskSettings) -> None:
        self.adapter = adapter
        self.channel = settings.callback_channel
        self.context = settings.callback_context
        self.exten = settings.callback_exten
        self.caller_id = settings.callback_caller_id

    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        channel = self.channel.format(number=to, digits=to.lstrip("+"))
        variables = {
            "SANSHE_ORDER": payload.get("order_id", ""),
            "SANSHE_OUTBOX": payload.get("outbox_id", ""),
        }
        try:
            queued = self.adapter.originate(channel, self.exten, self.context, self.caller_id, variables)
        except ValueError as exc:  # a header-unsafe number or variable
            raise DeliveryError(f"cannot originate to {to!r}: {exc}", permanent=True) from None
        if not queued:
            reason = self.adapter.last_error or "refused"
            raise DeliveryError(f"Asterisk did not take the callback: {reason}", permanent=False)
        return f"ami-{payload.get('outbox_id', '')}-{to[-4:]}"


class AmiConnector:
    """Click-to-call by AMI ``Originate``: the operator's phone rings first (``operator_channel``),
    and when they pick up Asterisk dials the resident (``dial_exten`` in ``dial_context``)."""

    via = "asterisk"

    def __init__(self, adapter: AmiAdapter, settings: AsteriskSettings, *, region: str) -> None:
        self.adapter = adapter
        self.settings = settings
        self.region = region

    def connect(self, extension: str, to: str, payload: dict[str, Any]) -> str:
        if not extension:
            raise DeliveryError("the operator has no extension to ring", permanent=True)
        s = self.settings
        exten = s.dial_exten.format(number=to, digits=to.lstrip("+"), national=dialable(to, self.region))
        variables = {"SANSHE_CALLBACK": payload.get("callback_id", "")}
        try:
            queued = self.adapter.originate(
                s.operator_channel.format(extension=extension), exten, s.dial_context, to, variables
            )
        except ValueError as exc:  # a header-unsafe number or extension
            raise DeliveryError(f"cannot originate to {to!r}: {exc}", permanent=True) from None
        if not queued:
            raise DeliveryError(
                f"Asterisk did not place the call: {self.adapter.last_error or 'refused'}", permanent=False
            )
        return f"ami-cb{payload.get('callback_id', '')}-{to[-4:]}"
