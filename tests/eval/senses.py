# What the scripted participant sees and how it acts, on two paths: locally through X (XGetImage
# screen reads, XTest input on the same display) or remotely only through a VNC connection (the
# framebuffer it receives, key and pointer events it sends).
import threading
import time

import numpy as np
from Xlib import X, XK, display
from Xlib.ext import xtest

from rfb import RfbClient

# X keysyms for the keys the participant uses (RFB key events carry X keysyms too).
KEYSYMS = {
    ".": XK.XK_period, "t": XK.XK_t, "i": XK.XK_i, "e": XK.XK_e, "5": XK.XK_5, "r": XK.XK_r,
    "o": XK.XK_o, "a": XK.XK_a, "n": XK.XK_n, "l": XK.XK_l, "Return": XK.XK_Return,
    "Shift": XK.XK_Shift_L, "space": XK.XK_space, "End": XK.XK_End,
}


class LocalIo:
    """Sees the X screen with XGetImage and acts with XTest, on the display Chromium uses."""

    path = "local"

    def __init__(self, display_name):
        # python-xlib connections are not thread-safe: one to look with, one to act with.
        self.eyes = display.Display(display_name)
        self.hands = display.Display(display_name)
        self.hands_lock = threading.Lock()
        if not self.hands.query_extension("XTEST"):
            raise RuntimeError("the X server has no XTEST extension")
        screen = self.eyes.screen()
        self.root = screen.root
        self.width_px, self.height_px = screen.width_in_pixels, screen.height_in_pixels
        self.hands_root = self.hands.screen().root

    def look(self, x, y, w, h, after=None):
        """Reads a region of the screen now; returns (R, G, B array, when it was seen, token)."""
        if after is not None:
            # A person's eye samples continuously; pausing 2 ms keeps Chromium its share of
            # the two cores.
            time.sleep(0.002)
        image = self.root.get_image(x, y, w, h, X.ZPixmap, 0xFFFFFFFF)
        seen_at_s = time.monotonic()
        pixels = np.frombuffer(image.data, dtype=np.uint8).reshape(h, w, 4)
        return pixels[:, :, 2::-1], seen_at_s, seen_at_s

    def key(self, name, down):
        with self.hands_lock:
            keycode = self.hands.keysym_to_keycode(KEYSYMS[name])
            xtest.fake_input(self.hands, X.KeyPress if down else X.KeyRelease, keycode)
            self.hands.flush()

    def pointer(self, x_px, y_px):
        with self.hands_lock:
            xtest.fake_input(self.hands, X.MotionNotify, x=int(round(x_px)), y=int(round(y_px)))
            self.hands.flush()

    def button(self, down, x_px, y_px):
        with self.hands_lock:
            xtest.fake_input(self.hands, X.ButtonPress if down else X.ButtonRelease, 1)
            self.hands.flush()

    def close(self):
        self.eyes.close()
        self.hands.close()


class RemoteIo:
    """Sees only the framebuffer received over VNC and acts only with VNC events."""

    path = "remote"

    def __init__(self, host, port, request_interval_s=None):
        self.client = RfbClient(host, port, request_interval_s=request_interval_s)
        self.width_px, self.height_px = self.client.width_px, self.client.height_px
        self.pointer_at = (0, 0)

    def look(self, x, y, w, h, after=None):
        """The region as last received; with `after` (the previous token), waits for an update
        that arrived later. Returns (R, G, B array, when it arrived, token)."""
        if after is not None:
            self.client.wait_update(after, timeout_s=0.5)
        token = self.client.updates
        return self.client.rgb(x, y, w, h), self.client.updated_at_s, token

    def key(self, name, down):
        self.client.key(KEYSYMS[name], down)

    def pointer(self, x_px, y_px):
        self.pointer_at = (x_px, y_px)
        self.client.pointer(x_px, y_px, 0)

    def button(self, down, x_px, y_px):
        self.client.pointer(x_px, y_px, 1 if down else 0)

    def close(self):
        self.client.close()
