"""The tests' name for training/cdp.py (the DevTools client now lives there: make data uses it
for the Chromium innerText renditions)."""
from training.cdp import Browser, WebSocket, chromium  # noqa: F401
