"""Two transaction layers talking through bytes (serialize, parse_message) on a fake clock,
with lost datagrams: the retransmission rules of §17.1 and §17.2 recover the exchange."""

from __future__ import annotations

from privateline.edges.sip.core import (
    InviteClientTransaction,
    Request,
    State,
    TimerSettings,
    parse_message,
    serialize,
)
from privateline.edges.sip.core.transaction_events import (
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
    TransportError,
)
from privateline.edges.sip.core.transactions import TransactionLayer
from tests.edges.sip.core.transaction_support import UAC, UAS, answer, events, request


class Network:
    """Carries datagrams between two layers at once, dropping the `drop` first ones of each kind."""

    def __init__(self, client: TransactionLayer, server: TransactionLayer, drop: dict[str | int, int]) -> None:
        self.client, self.server, self.drop = client, server, dict(drop)
        self.delivered: list[str | int] = []

    def flush(self, now: float) -> None:
        moved = True
        while moved:
            moved = False
            for sender, receiver, source in ((self.client, self.server, UAC), (self.server, self.client, UAS)):
                for out in sender.data_to_send():
                    moved = True
                    message = out.message
                    kind: str | int = message.method if isinstance(message, Request) else message.status
                    if self.drop.get(kind, 0) > 0:
                        self.drop[kind] -= 1
                        continue
                    self.delivered.append(kind)
                    receiver.receive(parse_message(serialize(message, compact=True)), source, now)

    def run(self, until: float) -> None:
        while True:
            due = [t for t in (self.client.next_timer(), self.server.next_timer()) if t is not None and t <= until]
            if not due:
                return
            now = min(due)
            self.client.handle_timer(now)
            self.server.handle_timer(now)
            self.flush(now)


def test_an_invite_rejected_over_a_lossy_udp_path() -> None:
    """The first INVITE and the first 486 are lost; Timer A and Timer G recover them; the ACK
    built by the client confirms the server; both sides end in Terminated."""
    client, server = TransactionLayer(), TransactionLayer()
    network = Network(client, server, drop={"INVITE": 1, 486: 1})
    invite = request()
    client_key = client.send_request(invite, UAS, 0.0)
    network.flush(0.0)
    network.run(0.5)  # Timer A: the INVITE again, which arrives
    server_events = events(server)
    [new] = [e for e in server_events if isinstance(e, RequestReceived)]
    assert new.transaction is not None
    server.respond(new.transaction, answer(new.request, 486), 0.6)  # lost
    network.flush(0.6)
    network.run(40.0)
    client_events: list[TransactionEvent] = events(client)
    assert [e.response.status for e in client_events if isinstance(e, ResponseReceived)] == [486]
    assert network.delivered == ["INVITE", 486, "ACK"]  # the 486 resent by Timer G at 1.1 s
    assert TransactionTerminated(client_key) in client_events
    assert TransactionTerminated(new.transaction) in events(server)
    assert len(client) == 0 and len(server) == 0


def test_a_non_invite_exchange_with_a_lost_response() -> None:
    client, server = TransactionLayer(), TransactionLayer()
    network = Network(client, server, drop={200: 1})
    options = request("OPTIONS")
    client.send_request(options, UAS, 0.0)
    network.flush(0.0)
    [new] = events(server)
    assert isinstance(new, RequestReceived) and new.transaction is not None
    server.respond(new.transaction, answer(new.request, 200), 0.1)  # lost
    network.flush(0.1)
    network.run(0.5)  # Timer E: OPTIONS again; the server answers it with the 200 it holds
    assert network.delivered == ["OPTIONS", "OPTIONS", 200]
    assert [e.response.status for e in events(client) if isinstance(e, ResponseReceived)] == [200]


def test_a_machine_works_without_the_layer() -> None:
    """Each machine is usable alone: fed messages and `now`, drained for events and messages."""
    settings = TimerSettings()
    invite = request()
    machine = InviteClientTransaction(invite, UAS, 0.0, reliable=False, settings=settings)
    assert machine.state is State.CALLING and machine.next_timer() == 0.5
    machine.receive_response(answer(invite, 180), UAS, 0.1)
    machine.transport_error(0.2)
    got, sent = machine.drain()
    assert [type(e).__name__ for e in got] == ["ResponseReceived", "TransportError", "TransactionTerminated"]
    assert isinstance(got[1], TransportError) and [type(o.message) for o in sent] == [Request]
    assert machine.terminated and machine.timers() == {}
