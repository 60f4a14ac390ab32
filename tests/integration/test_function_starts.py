"""Forked local function starts (jiwa.dev.functions_host, the test stacks'): each function
is a functions-framework server in a process and a process group of its own, forked from
one host that imported their code. `./emulator.sh up` starts them cold, one interpreter
each; test_emulator_sh.py drives that stack (docs/decisions/0018)."""

from __future__ import annotations

import os

from harness import Harness, parent_pid

from jiwa.dev.stack import FUNCTIONS, Stack


def test_each_function_is_its_own_process_group_forked_from_the_host(
        stack: Stack, harness: Harness) -> None:
    host = stack.state.pids["functions_host"]
    pids = {name: stack.state.pids[name] for name in FUNCTIONS}
    assert len(set(pids.values())) == len(FUNCTIONS) and host not in pids.values()
    for name, pid in pids.items():
        assert parent_pid(pid) == host, name
        assert os.getpgid(pid) == pid and os.getsid(pid) == pid, name  # stopped by its group
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            assert b"jiwa.dev.functions_host" in cmdline.read(), name
        # each answers on its own port (a CloudEvent function refuses a bare GET)
        answer = harness.http.get(stack.state.url(name) + "/")
        assert answer.status_code < 500, (name, answer.status_code)
    # the webhook's verification handshake, answered by its own main.py
    challenge = harness.http.get(stack.state.url("whatsapp_webhook") + "/", params={
        "hub.mode": "subscribe", "hub.verify_token": stack.state.env["WHATSAPP_VERIFY_TOKEN"],
        "hub.challenge": "4242"})
    assert challenge.text == "4242"
