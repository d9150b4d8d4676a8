# Real input for the cross-browser tests: XTest key presses and pointer motion on an Xvfb
# display, as a keyboard and mouse would make them, at the times a schedule asks for. The
# browser's events then carry the X server's own timing, not a driver's.
#
# Usage: python xtest_input.py DISPLAY SCHEDULE_JSON
# SCHEDULE_JSON is a list of steps, each {"at_ms": ms from start, "key": "a" | "space", "down":
# true | false} or {"at_ms": ms, "x": px, "y": px}. Prints "done" when the last step is sent.
import json
import sys
import time

from Xlib import X, XK, display
from Xlib.ext import xtest


def keycode(hands, name):
    keysym = XK.string_to_keysym(name)
    if keysym == 0:
        raise SystemExit(f"no keysym for {name!r}")
    return hands.keysym_to_keycode(keysym)


def main():
    hands = display.Display(sys.argv[1])
    if not hands.query_extension("XTEST"):
        raise SystemExit("the X server has no XTEST extension")
    steps = json.loads(sys.argv[2])
    codes = {step["key"]: keycode(hands, step["key"]) for step in steps if "key" in step}
    start_s = time.monotonic()
    for step in steps:
        # Sleep to just before the step, then spin: a person's timing, to well under a millisecond.
        due_s = start_s + step["at_ms"] / 1000
        while (left_s := due_s - time.monotonic()) > 0.002:
            time.sleep(left_s - 0.002)
        while time.monotonic() < due_s:
            pass
        if "key" in step:
            kind = X.KeyPress if step["down"] else X.KeyRelease
            xtest.fake_input(hands, kind, codes[step["key"]])
        else:
            xtest.fake_input(hands, X.MotionNotify, x=int(step["x"]), y=int(step["y"]))
        hands.flush()
    hands.sync()
    hands.close()
    print("done")


if __name__ == "__main__":
    main()
