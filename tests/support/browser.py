"""Debian's Chromium, headless, driven by Playwright: the one way the tests start it.

The flags keep Chromium from reaching out to the network this machine does not have
(TESTING.md), and `--no-sandbox` lets it run as root.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """A headless Chromium browser of `playwright` (sync API); the caller closes it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
