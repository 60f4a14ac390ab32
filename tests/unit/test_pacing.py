"""Per-user pacing (jiwa/pacing.py) through the notifier function: a burst of progress
messages to one user stays inside the pair rate, in order, and a turn too far away is
left to Pub/Sub's redelivery instead of holding the instance."""

from __future__ import annotations

import pytest
from fakes import FakeClients, Function, settings
from flask.testing import FlaskClient
from test_fn_pubsub import JOB, PHONE, progress, push, queued

from jiwa.events import ProgressKind
from jiwa.pacing import PairRate


def within_pair_rate(times: list[float], rate: PairRate) -> bool:
    """Token-bucket reading of the limit, written apart from the GCRA in jiwa.pacing: between
    any two sends, no more messages than the burst plus one per interval elapsed."""
    return all(j - i + 1 <= rate.burst + (times[j] - times[i]) / rate.interval + 1e-9
               for i in range(len(times)) for j in range(i + 1, len(times)))


def test_the_rate_lets_a_burst_through_then_one_message_per_interval() -> None:
    rate = PairRate(interval=6.0, burst=3)
    due, waits = 0.0, []
    for _ in range(5):
        wait, due = rate.admit(due, now=100.0)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, 6.0, 12.0]
    assert rate.admit(due, now=100.0 + 600)[0] == 0.0  # an idle user has the burst again


def test_a_burst_of_image_messages_goes_out_in_order_inside_the_pair_rate(
        notifier: FlaskClient, clients: FakeClients) -> None:
    queued(clients)
    pacer = clients.fake_pacer
    events = [progress(ProgressKind.WAVE, seq=300 + i, message_id=f"m{i}") for i in range(16)]
    assert [push(notifier, e) for e in events] == [200] * 16
    assert len(clients.meta.to(PHONE)) == 16
    assert len(pacer.turns) == 16 and within_pair_rate(pacer.turns, pacer.rate)
    assert pacer.slept == [pacer.rate.interval] * (16 - pacer.rate.burst)  # no more than that
    records = clients.guards["notifications"].records
    wamids = [records[f"{JOB}-r1-{300 + i:05d}"]["wamid"] for i in range(16)]
    assert wamids == [f"wamid.out{i + 1}" for i in range(16)]  # sent in the events' order


@pytest.fixture
def notifier(function: Function) -> FlaskClient:
    return function("notifier")


@pytest.fixture
def slow_clients() -> FakeClients:
    # a rate whose second turn is further away than the wait the notifier may spend
    return FakeClients(settings(whatsapp_pair_interval_seconds=30.0, whatsapp_pair_burst=1,
                                whatsapp_pacing_max_wait_seconds=10.0))


def test_a_turn_too_far_away_is_redelivered_not_waited_for(function: Function,
                                                            slow_clients: FakeClients) -> None:
    from jiwa import app

    app.install(slow_clients, slow_clients.launcher)
    notifier = function("notifier")
    queued(slow_clients)
    first, second = progress(seq=300, message_id="m1"), progress(seq=301, message_id="m2")
    assert push(notifier, first) == 200
    assert push(notifier, second) == 500  # Pub/Sub's retry policy brings it back
    assert slow_clients.fake_pacer.slept == []  # nothing held the instance
    assert slow_clients.guards["notifications"].status(f"{JOB}-r1-00301") is None
    slow_clients.fake_pacer.now += 25  # the turn is now 5 s away: waited for, then sent
    assert push(notifier, second) == 200
    assert slow_clients.fake_pacer.slept == [pytest.approx(5.0)]
    assert len(slow_clients.meta.to(PHONE)) == 2
