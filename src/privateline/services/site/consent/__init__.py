"""The website visitor's consent: banner, cookie settings, proof of every choice (WEB-8, R-9).

`choices.py` says which of the register's activities a visitor is asked about and
records each answer in the consent ledger; `visitor.py` is the browser's signed
visitor cookie, which is also how a visitor proves who they are for a rights request;
`http.py` serves `/cookie-settings` and the banner and footer link on every page.
"""
