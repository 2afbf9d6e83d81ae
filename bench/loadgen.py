"""The load generator, in its own process: ``python -m bench.loadgen < spec.json``.

Reads ``{"url", "secret", "concurrency", "interval", "keep_bodies", "timeout", "items"}``
(items are form-encoded bodies) and prints ``{"t0", "latency", "status", "bodies", "wall"}``.

``concurrency`` closed-loop clients, each with one keep-alive HTTP/1.1 connection
(http.client: small client overhead). Each body is signed just before it is sent, outside
the timed span; the timer runs from the first byte written to the last byte of the response
read. ``interval`` > 0 paces the sends (item i starts no earlier than start + i*interval).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def main() -> int:
    spec = json.load(sys.stdin)
    parts = urlsplit(spec["url"])
    host, port, path = parts.hostname, parts.port, parts.path
    secret = spec["secret"].encode()
    items: list[str] = spec["items"]
    interval = float(spec.get("interval") or 0)
    keep = int(spec.get("keep_bodies") or 0)
    timeout = float(spec.get("timeout") or 30)
    n = len(items)
    t0 = [0.0] * n
    latency = [0.0] * n
    status = [0] * n
    bodies: list[str] = [""] * min(keep, n)
    lock = threading.Lock()
    counter = iter(range(n))
    start = time.monotonic()

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            if interval:
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            body = items[i].encode()
            for attempt in range(2):
                stamp = str(int(time.time()))
                digest = hmac.new(secret, f"v0:{stamp}:".encode() + body, hashlib.sha256)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": stamp,
                    "X-Slack-Signature": "v0=" + digest.hexdigest(),
                }
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                began = time.monotonic()
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    data = response.read()
                    ended = time.monotonic()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = None
                    if attempt == 0 and isinstance(
                        exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                    ):
                        continue  # an idle keep-alive connection the server had closed
                    t0[i], latency[i], status[i] = began, time.monotonic() - began, -1
                    break
                t0[i], latency[i], status[i] = began, ended - began, response.status
                if i < keep:
                    bodies[i] = data[:1_000_000].decode("utf-8", "replace")
                if (response.getheader("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
                break
        if conn is not None:
            conn.close()

    threads = [
        threading.Thread(target=worker, daemon=True) for _ in range(int(spec["concurrency"]))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump(
        {
            "t0": t0,
            "latency": latency,
            "status": status,
            "bodies": bodies,
            "wall": time.monotonic() - start,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
