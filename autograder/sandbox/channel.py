"""Length-prefixed messages over a stream socket, with size caps and deadlines."""

from __future__ import annotations

import os
import socket
import struct
import time

_LEN = struct.Struct("<Q")


class ChannelTimeout(Exception):
    """The peer did not answer before the deadline."""


class ChannelClosed(Exception):
    """The peer closed the connection (or died) before a whole message arrived."""


class MessageTooLarge(Exception):
    """The peer announced a message larger than this channel accepts."""


class Channel:
    """Send and receive whole messages; the receiver checks the announced size before reading."""

    def __init__(self, sock: socket.socket, max_bytes: int = 256 * 1024 * 1024):
        self.sock = sock
        self.max_bytes = max_bytes

    def send(self, payload: bytes, timeout: float | None = None) -> None:
        """Send one message (raises ChannelClosed if the peer is gone)."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(_LEN.pack(len(payload)) + payload)
        except socket.timeout:
            raise ChannelTimeout("sending timed out") from None
        except OSError as exc:
            raise ChannelClosed(str(exc)) from None

    def recv(self, timeout: float | None = None) -> bytes | None:
        """Receive one message; ``None`` on a clean end of stream before any byte of it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        head = self._read(_LEN.size, deadline, allow_eof=True)
        if head is None:
            return None
        (size,) = _LEN.unpack(head)
        if size > self.max_bytes:
            raise MessageTooLarge(f"message of {size} bytes announced, limit {self.max_bytes}")
        return self._read(size, deadline, allow_eof=False)

    def _read(self, size: int, deadline, allow_eof: bool):
        chunks, got = [], 0
        while got < size:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout("no answer before the deadline")
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(min(size - got, 1 << 20))
            except socket.timeout:
                raise ChannelTimeout("no answer before the deadline") from None
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not chunk:
                if allow_eof and got == 0:
                    return None
                raise ChannelClosed("connection closed mid-message")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass


def send_with_fds(sock: socket.socket, payload: bytes, fds: list[int]) -> None:
    """Send one length-prefixed message with file descriptors attached (SCM_RIGHTS)."""
    data = _LEN.pack(len(payload)) + payload
    sent = socket.send_fds(sock, [data], fds) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def recv_with_fds(sock: socket.socket, max_bytes: int, max_fds: int = 1,
                  timeout: float | None = None) -> tuple[bytes | None, list[int]]:
    """Receive one message sent by :func:`send_with_fds`; ``(None, [])`` at end of stream.

    Raises the same errors as :meth:`Channel.recv`; descriptors beyond ``max_fds`` are closed."""
    sock.settimeout(timeout)
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, max_fds)
    except socket.timeout:
        raise ChannelTimeout("no answer before the deadline") from None
    except OSError as exc:
        raise ChannelClosed(str(exc)) from None
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        if len(data) < _LEN.size:
            data += Channel(sock, max_bytes)._read(_LEN.size - len(data), None, allow_eof=False)
        (size,) = _LEN.unpack_from(data)
        if size > max_bytes:
            raise MessageTooLarge(f"message of {size} bytes announced, limit {max_bytes}")
        body = data[_LEN.size:]
        if len(body) < size:
            deadline = None if timeout is None else time.monotonic() + timeout
            body += Channel(sock, max_bytes)._read(size - len(body), deadline, allow_eof=False)
        elif len(body) > size:
            raise ChannelClosed("unexpected bytes after a message")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return body, list(fds)
