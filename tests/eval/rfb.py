# A minimal RFB 3.8 (VNC) client: no authentication, Raw encoding, 32-bit true colour. It keeps
# the whole framebuffer in a numpy array, notes when each update arrived, and sends key and
# pointer events, so the remote participant sees and acts only through VNC.
import socket
import struct
import threading
import time

import numpy as np

# RFB message types (RFC 6143, section 7).
SET_PIXEL_FORMAT = 0
SET_ENCODINGS = 2
FRAMEBUFFER_UPDATE_REQUEST = 3
KEY_EVENT = 4
POINTER_EVENT = 5
ENCODING_RAW = 0


class RfbError(Exception):
    """The server closed the connection or spoke something this client does not handle."""


class RfbClient:
    """Connects, negotiates, and reads updates on a thread of its own until closed."""

    def __init__(self, host, port, timeout_s=10.0, request_interval_s=None):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=1 << 20)
        self.send_lock = threading.Lock()
        self.changed = threading.Condition()
        self.updates = 0
        self.updated_at_s = 0.0
        self.closed = False
        self.error = None
        self.listeners = []
        self._handshake()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read_loop, name="rfb-reader", daemon=True)
        self.thread.start()
        if request_interval_s:
            # A streaming-style viewer: keeps update requests outstanding on a timer instead of
            # one per round trip, so the frame rate does not fall with the delay.
            threading.Thread(target=self._request_loop, args=(request_interval_s,), daemon=True).start()

    def _request_loop(self, interval_s):
        while not self.closed:
            time.sleep(interval_s)
            try:
                self._request(incremental=True)
            except OSError:
                return

    def _read(self, n):
        data = self.reader.read(n)
        if data is None or len(data) < n:
            raise RfbError("the server closed the connection")
        return data

    def _handshake(self):
        version = self._read(12)
        if not version.startswith(b"RFB 003."):
            raise RfbError(f"not an RFB server: {version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        (count,) = struct.unpack("B", self._read(1))
        if count == 0:
            (length,) = struct.unpack(">I", self._read(4))
            raise RfbError(f"refused: {self._read(length).decode(errors='replace')}")
        types = self._read(count)
        if 1 not in types:
            raise RfbError(f"the server needs authentication (offers {list(types)})")
        self.sock.sendall(b"\x01")
        (result,) = struct.unpack(">I", self._read(4))
        if result != 0:
            raise RfbError("security handshake failed")
        self.sock.sendall(b"\x01")  # Shared: other clients may stay connected.
        width, height = struct.unpack(">HH", self._read(4))
        self._read(16)  # The server's own pixel format; ours replaces it.
        (name_length,) = struct.unpack(">I", self._read(4))
        self.name = self._read(name_length).decode(errors="replace")
        self.width_px, self.height_px = width, height
        # Four bytes per pixel, little-endian, red at bit 16: bytes B, G, R, unused in memory.
        pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        self.sock.sendall(struct.pack(">B3x", SET_PIXEL_FORMAT) + pixel_format)
        self.sock.sendall(struct.pack(">BxHi", SET_ENCODINGS, 1, ENCODING_RAW))
        self.framebuffer = np.zeros((height, width, 4), dtype=np.uint8)
        self._request(incremental=False)

    def _request(self, incremental):
        message = struct.pack(">BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, int(incremental), 0, 0, self.width_px, self.height_px)
        with self.send_lock:
            self.sock.sendall(message)

    def _read_loop(self):
        try:
            while True:
                (kind,) = struct.unpack("B", self._read(1))
                if kind == 0:
                    self._read_update()
                elif kind == 1:
                    _, count = struct.unpack(">xHH", self._read(5))
                    self._read(6 * count)
                elif kind == 2:
                    pass
                elif kind == 3:
                    (length,) = struct.unpack(">3xI", self._read(7))
                    self._read(length)
                else:
                    raise RfbError(f"unknown server message {kind}")
        except (OSError, RfbError, ValueError) as error:
            if not self.closed:
                self.error = error
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()

    def _read_update(self):
        (rects,) = struct.unpack(">xH", self._read(3))
        boxes = []
        for _ in range(rects):
            x, y, w, h, encoding = struct.unpack(">HHHHi", self._read(12))
            if encoding != ENCODING_RAW:
                raise RfbError(f"unexpected encoding {encoding}")
            pixels = self._read(w * h * 4)
            self.framebuffer[y : y + h, x : x + w] = np.frombuffer(pixels, dtype=np.uint8).reshape(h, w, 4)
            boxes.append((x, y, w, h))
        # Like an ordinary viewer, ask for the next update as soon as this one is drawn.
        self._request(incremental=True)
        arrived_at_s = time.monotonic()
        for listener in list(self.listeners):
            listener(self.framebuffer, arrived_at_s, boxes)
        with self.changed:
            self.updates += 1
            self.updated_at_s = arrived_at_s
            self.changed.notify_all()

    def rgb(self, x, y, w, h):
        """A copy of a region as height x width x (R, G, B)."""
        return self.framebuffer[y : y + h, x : x + w, 2::-1].copy()

    def wait_update(self, after, timeout_s=1.0):
        """Waits for an update newer than number `after`; returns the newest number."""
        with self.changed:
            self.changed.wait_for(lambda: self.updates > after or self.closed, timeout=timeout_s)
            if self.closed:
                raise RfbError(f"connection closed: {self.error}")
            return self.updates

    def key(self, keysym, down):
        with self.send_lock:
            self.sock.sendall(struct.pack(">BBxxI", KEY_EVENT, int(down), keysym))

    def pointer(self, x_px, y_px, buttons=0):
        x_px = min(max(int(round(x_px)), 0), self.width_px - 1)
        y_px = min(max(int(round(y_px)), 0), self.height_px - 1)
        with self.send_lock:
            self.sock.sendall(struct.pack(">BBHH", POINTER_EVENT, buttons, x_px, y_px))

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
