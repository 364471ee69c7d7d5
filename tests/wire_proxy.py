"""A real TCP proxy between MongoDB clients and a server that can lose chosen messages.

Network faults that matter to the job queue are narrow: the server applied a write but its reply
never arrived, or the server refused a request by closing the connection (FerretDB does that for
NaN).  A process killed at the wrong moment cannot produce them reliably; this proxy does.  It
forwards every byte unchanged, reads the MongoDB wire protocol (OP_MSG) only to recognise the
requests a fault names, and then either forwards the request and drops its reply (closing the
client's connection, as a network would), or drops the request and closes the connection.

Start it between a worker and the server: ``sigopt-hyperopt worker --mongo=127.0.0.1:<proxy port>/db``.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Callable

import bson

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode


@dataclass
class Fault:
    """What to do with requests ``matches`` accepts (the command document, document sequences merged in).

    ``action``: ``"lose_reply"`` forwards the request and drops the server's reply; ``"refuse"`` drops
    the request unsent.  Either way the client's connection is closed.  ``times``: how many requests
    to hit (``None``: every one).
    """

    matches: Callable[[dict], bool]
    action: str = "lose_reply"
    times: int | None = 1
    hits: list[dict] = field(default_factory=list)
    """The commands this fault hit, in order: a test asserts the fault really happened."""

    def take(self, command: dict) -> bool:
        if self.times is not None and len(self.hits) >= self.times:
            return False
        if not self.matches(command):
            return False
        self.hits.append(command)
        return True


def command_of(message: bytes) -> dict | None:
    """The command an OP_MSG request carries (its body, with kind-1 document sequences as lists)."""
    _length, _request_id, _response_to, op_code = HEADER.unpack_from(message)
    if op_code != OP_MSG:
        return None
    flags = struct.unpack_from("<I", message, 16)[0]
    end = len(message) - (4 if flags & 1 else 0)  # checksumPresent
    position, command = 20, {}
    while position < end:
        kind = message[position]
        position += 1
        if kind == 0:
            size = struct.unpack_from("<i", message, position)[0]
            command.update(bson.decode(message[position:position + size]))
            position += size
        else:
            size = struct.unpack_from("<i", message, position)[0]
            section_end = position + size
            name_end = message.index(b"\0", position + 4)
            name = message[position + 4:name_end].decode()
            command[name] = bson.decode_all(message[name_end + 1:section_end])
            position = section_end
    return command


def _read_message(sock: socket.socket) -> bytes | None:
    header = _read_exactly(sock, HEADER.size)
    if header is None:
        return None
    length = HEADER.unpack(header)[0]
    rest = _read_exactly(sock, length - HEADER.size)
    return None if rest is None else header + rest


def _read_exactly(sock: socket.socket, count: int) -> bytes | None:
    chunks, remaining = [], count
    while remaining:
        try:
            chunk = sock.recv(remaining)
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class WireProxy:
    """Listens on 127.0.0.1 (a free port unless given) and forwards to ``upstream`` (``host:port``)."""

    def __init__(self, upstream: str, faults: list[Fault], port: int = 0) -> None:
        host, _, upstream_port = upstream.rpartition(":")
        self.upstream = (host, int(upstream_port))
        self.faults = faults
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="wire-proxy", daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> "WireProxy":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _shut(client)
                continue
            with self._lock:
                self._sockets += [client, server]
            lost: set[int] = set()  # request ids whose reply is to be dropped
            threading.Thread(target=self._requests, args=(client, server, lost), daemon=True).start()
            threading.Thread(target=self._replies, args=(client, server, lost), daemon=True).start()

    def _fault_for(self, message: bytes) -> Fault | None:
        command = command_of(message)
        if command is None:
            return None
        with self._lock:
            return next((fault for fault in self.faults if fault.take(command)), None)

    def _requests(self, client: socket.socket, server: socket.socket, lost: set[int]) -> None:
        while (message := _read_message(client)) is not None:
            fault = self._fault_for(message)
            if fault is not None and fault.action == "refuse":
                break
            if fault is not None:
                lost.add(HEADER.unpack_from(message)[1])
            try:
                server.sendall(message)
            except OSError:
                break
        _shut(client)
        _shut(server)

    def _replies(self, client: socket.socket, server: socket.socket, lost: set[int]) -> None:
        while (message := _read_message(server)) is not None:
            if HEADER.unpack_from(message)[2] in lost:
                break  # the server answered; the client never hears it
            try:
                client.sendall(message)
            except OSError:
                break
        _shut(client)
        _shut(server)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
