#!/usr/bin/env python3
"""Example `http` reward service in Python (standard library only), the same as
contains_answer_server.cpp: POST /score with a JSON array of items, answer a JSON array of as many
{"reward", "components", "outcome"} in order. HTTP/1.1 keep-alive. Usage: contains_answer_server.py [PORT]
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def score_item(item):
    response, expected = item.get("response", ""), item.get("answer", "")
    after_thinking = response.rsplit("</think>", 1)[-1]
    found = bool(expected) and expected in after_thinking
    return {"reward": 1.0 if found else 0.0,
            "components": {"contains_answer": 1.0 if found else 0.0},
            "outcome": "pass" if found else "fail"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: r1 reuses its connections

    def do_POST(self):
        items = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps([score_item(item) for item in items]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/score", flush=True)
    server.serve_forever()
