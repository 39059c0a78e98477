"""The e-mail channel: a person proves they hold an address by opening a link sent to it (R-13).

A newsletter recipient has no account and no phone, only an e-mail address; later a
customer without an account will use the same channel.  The person enters the address
in the privacy center and is always told the same thing, whatever the address (Art. 12(2)
and (6): identity is checked before anything is shown, and the answer itself shows
nothing about who exists).  A signed, time-limited, single-use link goes to the address;
opening it and confirming starts a short session in which the person sees what is held
about the address (Art. 15), downloads it (Art. 15(3), 20), has it erased (Art. 17) or
stops all marketing to it (Art. 7(3), 21(2)).

The address is used only while a request is answered, to send the mail: stores, the
audit trail and log lines know it by its keyed pseudonym alone (Art. 4(5), 25(1)).

Modules: `address` (what counts as an address, and its pseudonym), `link` (the signed
token), `session` (the cookie after the link was used), `limits` (how often links may
be asked for), `mail` (sending), `letter` (the mail's text), `forms` (reading the
forms), `rights` (the requests, through the rights engine), `http` (the routes).
"""
