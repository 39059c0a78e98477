"""A minimal phone for transport tests: real sockets, messages written out by hand, digest
answers computed from the RFC 2617 §3.2.2.1 formula (not by the code under test)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import socket

from privateline.edges.sip.core import Request, Response, parse_message, serialize

REALM = "privateline.test"
_counter = itertools.count(1)


def ha1(algorithm: str, user: str, password: str) -> str:
    return hashlib.new(algorithm, f"{user}:{REALM}:{password}".encode()).hexdigest()


def digest_header(
    method: str, uri: str, user: str, password: str, challenge_value: str, *, nc: int = 1, header: str = "Authorization"
) -> str:
    """The Authorization (or Proxy-Authorization) field answering an MD5 challenge with qop=auth."""
    nonce = challenge_value.split('nonce="', 1)[1].split('"', 1)[0]

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the RFC 2617 digest itself

    cnonce, count = "0a4f113b", f"{nc:08x}"
    response = h(f"{h(f'{user}:{REALM}:{password}')}:{nonce}:{count}:{cnonce}:auth:{h(f'{method}:{uri}')}")
    return (
        f'{header}: Digest username="{user}", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, cnonce="{cnonce}", qop=auth, nc={count}'
    )


def md5_challenge(response: Response, field: str = "WWW-Authenticate") -> str:
    for value in response.headers.get_all(field):
        if "MD5" in value.upper() or "algorithm" not in value:
            return value
    raise AssertionError(f"no MD5 challenge in {response.headers.get_all(field)}")


class UdpPhone:
    """A phone on a UDP socket of its own (its address is the binding's source)."""

    def __init__(self, number: str, password: str, server: tuple[str, int]) -> None:
        self.number = number
        self.password = password
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.call_id = f"{next(_counter)}-{number}@127.0.0.1"
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    async def send(self, text: str) -> None:
        data = text.replace("\n", "\r\n").encode()
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.server)

    async def receive(self, timeout: float = 5.0) -> Request | Response:
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65535), timeout)
        return parse_message(data)

    async def response(self, timeout: float = 5.0) -> Response:
        while True:
            message = await self.receive(timeout)
            if isinstance(message, Response):
                return message

    def register_text(self, *, authorization: str = "", expires: int = 600) -> str:
        self.cseq += 1
        host, port = self.server
        auth = f"{authorization}\n" if authorization else ""
        return (
            f"REGISTER sip:{host}:{port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-{self.port}-{self.cseq};rport\n"
            "Max-Forwards: 70\n"
            f"From: <sip:{self.number}@{host}>;tag=f{self.port}\n"
            f"To: <sip:{self.number}@{host}>\n"
            f"Call-ID: {self.call_id}\n"
            f"CSeq: {self.cseq} REGISTER\n"
            f"Contact: <sip:{self.number}@127.0.0.1:{self.port}>\n"
            f"Expires: {expires}\n"
            "User-Agent: TestPhone/1.0\n"
            f"{auth}"
            "Content-Length: 0\n\n"
        )

    async def register(self) -> Response:
        """REGISTER, answer the 401, return the final answer."""
        await self.send(self.register_text())
        first = await self.response()
        if first.status != 401:
            return first
        host, port = self.server
        auth = digest_header("REGISTER", f"sip:{host}:{port}", self.number, self.password, md5_challenge(first))
        await self.send(self.register_text(authorization=auth))
        return await self.response()

    def invite_text(self, callee: str, call_id: str, cseq: int, branch: str, *, authorization: str = "") -> str:
        host, port = self.server
        auth = f"{authorization}\n" if authorization else ""
        return (
            f"INVITE sip:{callee}@{host}:{port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport\n"
            "Max-Forwards: 70\n"
            f"From: <sip:{self.number}@{host}>;tag=c{self.port}\n"
            f"To: <sip:{callee}@{host}>\n"
            f"Call-ID: {call_id}\n"
            f"CSeq: {cseq} INVITE\n"
            f"Contact: <sip:{self.number}@127.0.0.1:{self.port}>\n"
            f"{auth}"
            "Content-Length: 0\n\n"
        )

    def ack_text(self, failure: Response, callee: str, branch: str) -> str:
        """The ACK for a non-2xx final response (§17.1.1.3): same branch, To with the tag."""
        host, port = self.server
        to = failure.headers.get_all("To")[0]
        return (
            f"ACK sip:{callee}@{host}:{port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport\n"
            "Max-Forwards: 70\n"
            f"From: <sip:{self.number}@{host}>;tag=c{self.port}\n"
            f"To: {to}\n"
            f"Call-ID: {failure.call_id}\n"
            f"CSeq: {failure.cseq.number if failure.cseq else 1} ACK\n"
            "Content-Length: 0\n\n"
        )

    async def call(self, callee: str) -> None:
        """INVITE `callee`, answer the 407 (ACK, then the INVITE with credentials); what follows
        is read by the caller of this method."""
        host, port = self.server
        call_id = f"call-{self.port}@127.0.0.1"
        await self.send(self.invite_text(callee, call_id, 1, f"z9hG4bK-i{self.port}-1"))
        challenge = await self.response()
        assert challenge.status == 407, challenge
        await self.send(self.ack_text(challenge, callee, f"z9hG4bK-i{self.port}-1"))
        auth = digest_header(
            "INVITE",
            f"sip:{callee}@{host}:{port}",
            self.number,
            self.password,
            md5_challenge(challenge, "Proxy-Authenticate"),
            header="Proxy-Authorization",
        )
        await self.send(self.invite_text(callee, call_id, 2, f"z9hG4bK-i{self.port}-2", authorization=auth))

    async def send_message(self, message: Response, destination: tuple[str, int]) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, serialize(message), destination)
