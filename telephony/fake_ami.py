"""A real TCP Asterisk Manager Interface server (127.0.0.1, ephemeral port) for the tests, the
telephony benchmark and trying the AMI adapter without a PBX.

It speaks enough AMI for ``telephony.asterisk.AmiAdapter``: the banner line, ``Login`` (success or
"Authentication failed" and a disconnect, as Asterisk does), ``Ping``, ``CoreShowChannels``,
``Originate`` (recorded) and ``Logoff``; unknown actions get an error. After a successful login it
replays the server->client events of a transcript from ``shared/fixtures/ami``.

Transcript rebuilding follows the header of those files (drop ``#`` and ``>>>`` lines, CR LF line
ends); the banner line becomes this server's banner and ``Response:`` packets are *skipped*,
because they answer the transcript's own Login, and this server answers the real client's actions
itself (with the client's ActionIDs). Every ``Event:`` packet is replayed byte for byte.

Faults to inject: ``chunked`` (each packet written in random 1-7 byte pieces), ``garbage`` (junk
packets and junk lines glued in front of packets), ``drop_after=N`` (cut the TCP connection once,
before replay event N; the next session continues from N, or from 0 with ``resume="restart"``),
``pause=(N, seconds)`` (silence before event N), ``answer_pings=False`` (a half-dead PBX).
``CoreShowChannels`` lists, unless ``channels`` is given, the channels created and not yet hung up
by the events replayed so far, i.e. what a PBX would report after a reconnect.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Headers = list[tuple[str, str]]
_GARBAGE = [
    b"this is not AMI at all\r\n\r\n",  # a junk packet on its own
    b"\x00\xff\xfe binary junk\r\n",  # a junk line glued in front of the next packet
    b"Junk: a header-only packet without Event\r\n\r\n",
]
_CHANNEL_KEYS = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
]


def parse_packet(packet: bytes) -> Headers:
    pairs = []
    for line in packet.decode("utf-8", "replace").split("\r\n"):
        if line:
            key, _, value = line.partition(":")
            pairs.append((key.strip(), value.strip()))
    return pairs


def build_packet(pairs: Headers) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


@dataclass
class Transcript:
    banner: str
    events: list[bytes]  # complete packets, each ending in "\r\n\r\n"

    @classmethod
    def load(cls, path: Path) -> Transcript:
        lines = [line for line in path.read_text("utf-8").splitlines() if not line.startswith(("#", ">>>"))]
        packets: list[list[str]] = [[]]
        for line in lines[1:]:
            if line:
                packets[-1].append(line)
            elif packets[-1]:
                packets.append([])
        events = [
            ("".join(f"{line}\r\n" for line in packet) + "\r\n").encode()
            for packet in packets
            if packet and not packet[0].startswith("Response:")
        ]
        return cls(banner=lines[0], events=events)

    def headers(self) -> list[Headers]:
        return [parse_packet(packet) for packet in self.events]


@dataclass
class _Session:
    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)
    authenticated: bool = False
    closed: bool = False


class AmiServer:
    def __init__(
        self,
        transcript: Transcript | None = None,
        *,
        username: str = "callcenter",
        secret: str = "s3cret",
        chunked: bool = False,
        garbage: bool = False,
        drop_after: int | None = None,
        resume: Literal["continue", "restart"] = "continue",
        pause: tuple[int, float] | None = None,
        answer_pings: bool = True,
        channels: list[dict[str, str]] | None = None,
        seed: int = 1,
    ) -> None:
        self.transcript = transcript or Transcript("Asterisk Call Manager/5.0.5", [])
        self.username, self.secret = username, secret
        self.chunked, self.garbage = chunked, garbage
        self.drop_after, self.resume, self.pause = drop_after, resume, pause
        self.answer_pings = answer_pings
        self.channels = channels
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._progress = 0  # replay events delivered so far (what "continue" resumes from)
        self._live: dict[str, dict[str, str]] = {}  # Uniqueid -> channel headers
        self._sessions: list[_Session] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # Observations for assertions.
        self.connections = 0
        self.login_attempts: list[tuple[str, bool]] = []
        self.pings = 0
        self.actions: list[Headers] = []
        self.originates: list[Headers] = []
        self.replay_done = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]

    def __enter__(self) -> AmiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> AmiServer:
        self._spawn(self._accept_loop, "ami-server-accept")
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for session in list(self._sessions):
            self._close(session)
        for thread in self._threads:
            thread.join(2.0)

    def push(self, packet: bytes) -> None:
        """Send a packet now to every logged-in session (e.g. an event after a quiet period)."""
        for session in list(self._sessions):
            if session.authenticated and not session.closed:
                self._write(session, packet)

    def drop_connections(self) -> None:
        for session in list(self._sessions):
            self._close(session)

    # --- plumbing -----------------------------------------------------------------------------

    def _spawn(self, target, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.05)  # close() does not wake a blocked accept() on Linux: poll
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = _Session(sock)
            self._sessions.append(session)
            self.connections += 1
            self._spawn(self._serve, f"ami-server-conn{self.connections}", session)

    def _close(self, session: _Session) -> None:
        session.closed = True
        with contextlib.suppress(OSError):
            session.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            session.sock.close()

    def _hang_up(self, session: _Session) -> None:
        """Server-side close that delivers what was sent: FIN after the data. A plain close() with
        an unread client action pending sends RST, and the client may then lose buffered events,
        which would make "drop the connection after event N" nondeterministic."""
        with session.lock:
            session.closed = True
            with contextlib.suppress(OSError):
                session.sock.shutdown(socket.SHUT_WR)  # _serve closes it when the client does

    def _write(self, session: _Session, data: bytes) -> bool:
        with session.lock:
            if session.closed:
                return False
            try:
                if not self.chunked:
                    session.sock.sendall(data)
                    return True
                pos = 0
                while pos < len(data):
                    size = self._random.randint(1, 7)
                    session.sock.sendall(data[pos : pos + size])
                    pos += size
                    if self._random.random() < 0.02:
                        time.sleep(0.001)  # let the client see a partial packet now and then
                return True
            except OSError:
                session.closed = True
                return False

    def _serve(self, session: _Session) -> None:
        self._write(session, f"{self.transcript.banner}\r\n".encode())  # one line, no blank line
        buffer = b""
        while not self._stopping.is_set():  # reads on after _hang_up(), until the client closes
            try:
                data = session.sock.recv(4096)
            except OSError:
                break
            if not data:
                break
            buffer += data
            while b"\r\n\r\n" in buffer:
                raw, buffer = buffer.split(b"\r\n\r\n", 1)
                self._handle(session, parse_packet(raw + b"\r\n"))
        self._close(session)

    def _handle(self, session: _Session, action: Headers) -> None:
        self.actions.append(action)
        fields = {key.lower(): value for key, value in action}
        name = fields.get("action", "").lower()
        reply = [("ActionID", fields["actionid"])] if "actionid" in fields else []
        if name == "login":
            ok = fields.get("username") == self.username and fields.get("secret") == self.secret
            self.login_attempts.append((fields.get("username", ""), ok))
            if not ok:
                self._write(
                    session,
                    build_packet([("Response", "Error"), *reply, ("Message", "Authentication failed")]),
                )
                self._hang_up(session)  # Asterisk drops the session after a failed login
                return
            self._write(
                session,
                build_packet([("Response", "Success"), *reply, ("Message", "Authentication accepted")]),
            )
            session.authenticated = True
            self._spawn(self._replay, "ami-server-replay", session)
        elif not session.authenticated:
            self._write(
                session, build_packet([("Response", "Error"), *reply, ("Message", "Authentication Required")])
            )
        elif name == "ping":
            self.pings += 1
            if self.answer_pings:
                pong = [
                    ("Response", "Success"),
                    *reply,
                    ("Ping", "Pong"),
                    ("Timestamp", f"{time.time():.6f}"),
                ]
                self._write(session, build_packet(pong))
        elif name == "coreshowchannels":
            self._core_show_channels(session, reply)
        elif name == "originate":
            self.originates.append(action)
            self._write(
                session,
                build_packet([("Response", "Success"), *reply, ("Message", "Originate successfully queued")]),
            )
        elif name == "logoff":
            self._write(
                session,
                build_packet([("Response", "Goodbye"), *reply, ("Message", "Thanks for all the fish.")]),
            )
            self._hang_up(session)
        else:
            self._write(
                session, build_packet([("Response", "Error"), *reply, ("Message", "Invalid/unknown command")])
            )

    def _core_show_channels(self, session: _Session, reply: Headers) -> None:
        with self._lock:  # a consistent snapshot relative to the replay
            channels = self.channels if self.channels is not None else list(self._live.values())
            packets = [
                build_packet(
                    [
                        ("Response", "Success"),
                        *reply,
                        ("EventList", "start"),
                        ("Message", "Channels will follow"),
                    ]
                )
            ]
            for channel in channels:
                extra = [
                    ("Application", "Queue"),
                    ("ApplicationData", ""),
                    ("Duration", "00:00:05"),
                    ("BridgeId", ""),
                ]
                pairs = [("Event", "CoreShowChannel"), *reply, *channel.items()]
                packets.append(build_packet(pairs + [kv for kv in extra if kv[0] not in channel]))
            complete = [("Event", "CoreShowChannelsComplete"), *reply, ("EventList", "Complete")]
            packets.append(build_packet(complete + [("ListItems", str(len(channels)))]))
            for packet in packets:
                self._write(session, packet)

    def _replay(self, session: _Session) -> None:
        events = self.transcript.events
        index = self._progress if self.resume == "continue" else 0
        while index < len(events) and not session.closed:
            if self.drop_after is not None and index == self.drop_after:
                self.drop_after = None  # one-shot: the next session gets through
                self._hang_up(session)
                return
            if self.pause is not None and index == self.pause[0]:
                seconds, self.pause = self.pause[1], None
                time.sleep(seconds)
            if self.garbage:  # before every event, each kind in turn (glued junk hits Newchannel)
                self._write(session, _GARBAGE[index % len(_GARBAGE)])
            with self._lock:
                if not self._write(session, events[index]):
                    return
                self._track(events[index])
                index += 1
                self._progress = max(self._progress, index)
        if index >= len(events):
            self.replay_done.set()

    def _track(self, packet: bytes) -> None:
        fields = dict(parse_packet(packet))
        if fields.get("Event") == "Newchannel":
            self._live[fields["Uniqueid"]] = {key: fields[key] for key in _CHANNEL_KEYS if key in fields}
        elif fields.get("Event") == "Hangup":
            self._live.pop(fields.get("Uniqueid", ""), None)


def synthetic_call(seq: int, caller: str, extension: str, at: float) -> tuple[list[bytes], list[bytes]]:
    """One inbound queue call in Asterisk 16 event form, split where the operator's phone starts
    ringing: (Newchannel, QueueCallerJoin, AgentCalled), then (AgentConnect, AgentComplete,
    Hangup). Answered after 3 s, 30 s of talk. ``at`` is the Unix time of the first event."""
    linked = f"{int(at)}.{seq}"
    agent_leg = f"{int(at)}.{seq}9"
    channel = f"SIP/carrier-{seq:08x}"
    agent = f"SIP/{extension}-{seq:08x}"

    def packet(event: str, offset: float, *pairs: tuple[str, str]) -> bytes:
        head = [("Event", event), ("Privilege", "call,all"), ("Timestamp", f"{at + offset:.6f}")]
        return build_packet([*head, ("Channel", channel), ("Uniqueid", linked), ("Linkedid", linked), *pairs])

    member = [("Queue", "hotline"), ("Interface", f"SIP/{extension}"), ("MemberName", extension)]
    legs = [("DestChannel", agent), ("DestUniqueid", agent_leg), ("DestLinkedid", linked)]
    before = [
        packet("Newchannel", 0, ("CallerIDNum", caller), ("Context", "from-trunk"), ("Exten", "4008001234")),
        packet("QueueCallerJoin", 0.5, ("CallerIDNum", caller), ("Queue", "hotline"), ("Position", "1")),
        packet("AgentCalled", 0.6, *legs, *member),
    ]
    after = [
        packet("AgentConnect", 3.5, *legs, *member, ("HoldTime", "3"), ("RingTime", "3")),
        packet(
            "AgentComplete", 33.5, *legs, *member, ("HoldTime", "3"), ("TalkTime", "30"), ("Reason", "caller")
        ),
        packet("Hangup", 33.6, ("Cause", "16"), ("Cause-txt", "Normal Clearing")),
    ]
    return before, after
