"""SIP for the phones: the message layer (`core`), and later transactions, registrar and proxy.

`core` is sans-IO (in the style of h11): it is fed bytes and hands back messages, and it
never opens a socket, reads a clock or touches the database.
"""
