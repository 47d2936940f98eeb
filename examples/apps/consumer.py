#!/usr/bin/env python3
"""Example consumer app (Python standard library only).

An HTTP endpoint an eventguard subscription delivers to: it prints each
event's body and its Eventguard-* metadata headers and answers 204. GET
/healthz answers 200 for health checks.

Environment: PORT (3000), BIND (0.0.0.0; use 127.0.0.1 in a pod, next to
the sidecar).
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        meta = {k: v for k, v in self.headers.items() if k.lower().startswith("eventguard-")}
        print(f"consumer: got {body.decode(errors='replace')} {json.dumps(meta, sort_keys=True)}", flush=True)
        self.send_response(204)  # 2xx: delivered; 4xx: dead-letter it; 5xx: retry
        self.end_headers()

    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):  # quiet: the prints above are the output
        pass


if __name__ == "__main__":
    addr = (os.environ.get("BIND", "0.0.0.0"), int(os.environ.get("PORT", "3000")))
    print(f"consumer: listening on {addr[0]}:{addr[1]}", flush=True)
    ThreadingHTTPServer(addr, Handler).serve_forever()
