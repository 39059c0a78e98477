"""Edges: the protocol front doors through which devices reach the cloud.

An edge speaks a device-facing protocol other than HTTP (today: SIP, in `edges.sip`) and
hands what it learns to the services below it.  Edges sit above `services` and below
`app`, which wires them into the running system.
"""
