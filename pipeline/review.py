"""`gouji review OUT`: confirm or correct a batch's doubtful cells in the browser.

Why: calibrated confidence pays off only when the doubtful rest is checked fast, and every
check should teach gouji. A local server (stdlib http.server, static files shipped in
pipeline/review_static, no build step) shows each document's page pictures with the
recovered grid, the doubtful cells and labels in a keyboard-driven queue, the enlarged
cell crop beside the alternatives, and the table's balance equations (served from the
solver's own templates, never copied into JS) holding or failing as values are typed.

Every decision is written at once, atomically (outdir.OutDir, recorded in the manifest):
* OUT/reviewed/<name>.json: the result with reviewed cells (status "reviewed",
  confidence 1), a top-level "labels" list of the labels a reviewer decided (the format
  `gouji train --add OUT/reviewed` reads) and "review": the decisions and an audit trail
  (when, who, which cell, old → new).
* OUT/reviewed/crops/<name>/<cell>.png: the cell as printed (the digit model's --add data).
Decisions are re-read from disk on every request under a file lock, so a second reviewer
(another browser, or another `gouji review` on the same OUT) sees and keeps them.

Security: only the routes below answer, files are looked up by result name in the
manifest (never joined from the request) and must resolve inside OUT; writes need the
session's token (X-Gouji-Token) and a Host header naming this server; the page builds
its DOM with textContent only and a Content-Security-Policy forbids inline script. A bad
request gets a 4xx JSON error and the server goes on.

Modules: review_files (decisions on disk, apply_review), review_store (Store: queue,
documents, pictures, decide), this one (the HTTP routes and the server).
"""
from __future__ import annotations

import hmac
import html
import json
import os
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .fsname import printable
from .outdir import UsageError
from .review_files import (KEY_RE, BadRequest, apply_review, crop_file,  # noqa: F401  (kept
                           load_reviewed, reviewed_path, settings)                   # importable here)
from .review_store import Store

STATIC = Path(__file__).with_name("review_static")
STATIC_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


# ----------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    server_version = "gouji-review"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet; errors are answered, not logged per request
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    # -- answers ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "private, max-age=300" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _host_ok(self) -> bool:
        """The Host header names this server: a loopback name, or the very address the client
        connected to (a wildcard --host); never another name (DNS rebinding)."""
        host = self.headers.get("Host", "")
        if host in self.server.hosts:
            return True
        local, port = self.connection.getsockname()[:2]
        return host in (f"{local}:{port}", f"[{local}]:{port}")

    def _route(self, method: str) -> None:
        try:
            if not self._host_ok():
                raise BadRequest(403, "unexpected Host header")
            u = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
            getattr(self, f"_{method}")(u.path, q)
        except BadRequest as e:
            self._error(e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:   # a bug answers 500 and the server goes on
            try:
                self._error(500, f"{type(e).__name__}")
            except OSError:
                pass
            print(f"gouji review: {type(e).__name__}: {e}", file=sys.stderr)

    def do_GET(self):
        self._route("get")

    def do_HEAD(self):
        self._route("get")

    def do_POST(self):
        self._route("post")

    def do_PUT(self):
        self._error(405, "method not allowed")

    do_DELETE = do_PATCH = do_PUT

    # -- routes -----------------------------------------------------------------------------
    def _get(self, path: str, q: dict) -> None:
        store: Store = self.server.store
        if path in ("/", "/index.html"):
            page = (STATIC / "index.html").read_text(encoding="utf-8")
            page = page.replace("{{TOKEN}}", html.escape(self.server.token, quote=True))
            page = page.replace("{{REVIEWER}}", html.escape(store.reviewer, quote=True))
            self._send(200, page.encode("utf-8"), STATIC_TYPES["index.html"])
        elif path.startswith("/static/"):
            fname = path[len("/static/"):]
            if fname not in STATIC_TYPES or fname == "index.html":
                raise BadRequest(404, "not found")
            self._send(200, (STATIC / fname).read_bytes(), STATIC_TYPES[fname])
        elif path == "/api/queue":
            self._json({"documents": store.queue(), "reviewer": store.reviewer})
        elif path == "/api/doc":
            self._json(store.document(q.get("name", "")))
        elif path == "/api/page":
            self._send(200, store.page_png(q.get("name", ""), q.get("n", "")), "image/png", cache=True)
        elif path == "/api/crop":
            if "key" in q:
                if not KEY_RE.match(q["key"]):
                    raise BadRequest(400, "bad cell key")
                png = store.crop_png(q.get("name", ""), key=q["key"], lines=q.get("view") == "lines")
            else:
                png = store.crop_png(q.get("name", ""), label=q.get("label"), lines=q.get("view") == "lines")
            self._send(200, png, "image/png")
        else:
            raise BadRequest(404, "not found")

    def _post(self, path: str, q: dict) -> None:
        store: Store = self.server.store
        tok = self.headers.get("X-Gouji-Token", "")
        if not hmac.compare_digest(tok.encode("utf-8", "replace"), self.server.token.encode()):
            self._drain()
            raise BadRequest(403, "missing or wrong session token")
        body = self._body()
        if path == "/api/decide":
            self._json(store.decide(body))
        elif path == "/api/export":
            from .batch import refresh_tables
            self._json({"written": refresh_tables(store.out)})
        else:
            raise BadRequest(404, "not found")

    def _drain(self) -> None:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if 0 < n <= int(self.server.store.rcfg.get("max_body", 65536)):
            self.rfile.read(n)
        else:
            self.close_connection = True

    def _body(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "bad Content-Length")
        if n > int(self.server.store.rcfg.get("max_body", 65536)) or n < 0:
            self.close_connection = True
            raise BadRequest(413, "request body too large")
        raw = self.rfile.read(n) if n else b""
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            raise BadRequest(415, "JSON expected")
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "body is not JSON")


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out: Path, host: str = "127.0.0.1", port: int = 0, reviewer: str | None = None,
                 verbose: bool = False):
        self.session = secrets.token_hex(4)
        self.token = secrets.token_urlsafe(24)
        self.store = Store(out, reviewer or os.environ.get("USER") or "reviewer", self.session)
        self.verbose = verbose
        super().__init__((host, port), Handler)
        port = self.server_address[1]
        names = {host, "127.0.0.1", "localhost"} | ({"[::1]"} if ":" in host else set())
        self.hosts = {f"{h}:{port}" for h in names}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


def serve(out: Path, host: str = "127.0.0.1", port: int = 0, reviewer: str | None = None) -> int:
    """Run the review server until Ctrl-C; then write the combined tables with the decisions."""
    import signal

    def stop(*_):   # kill / systemd stop: the same way out as Ctrl-C
        raise KeyboardInterrupt
    srv = ReviewServer(out, host, port, reviewer)
    signal.signal(signal.SIGTERM, stop)
    print(f"gouji review: {srv.url}  (reviewer {printable(srv.store.reviewer)}, session {srv.session}; "
          f"Ctrl-C to stop)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    from .batch import refresh_tables
    try:
        written = refresh_tables(Path(out))
        print(f"gouji review: wrote {', '.join(written)} with the reviewed values")
    except UsageError as e:
        print(f"gouji review: combined tables not rewritten: {e}", file=sys.stderr)
    return 0
