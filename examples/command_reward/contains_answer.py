#!/usr/bin/env python3
"""Example `command` reward in Python, the same as contains_answer.cpp: one JSON item a line in,
one JSON answer a line out, flushed. Used as:
    rewards: {contains: {reward: command, command: [python3, -u, path/to/contains_answer.py]}}
"""
import json
import sys

for line in sys.stdin:
    try:
        item = json.loads(line)
        response, expected = item["response"], item["answer"]
    except (ValueError, KeyError, TypeError):
        # Still exactly one line per item: r1 pairs answers with items by order.
        print(json.dumps({"outcome": "error", "reason": "not an item with response and answer"}), flush=True)
        continue
    after_thinking = response.rsplit("</think>", 1)[-1]
    found = bool(expected) and expected in after_thinking
    answer = {"reward": 1.0 if found else 0.0,
              "components": {"contains_answer": 1.0 if found else 0.0},
              "outcome": "pass" if found else "fail"}
    if not found:
        answer["reason"] = "the answer does not contain " + expected
    print(json.dumps(answer), flush=True)
