"""The call service (VoIP): the SIP registrations of the phones (DEV-4), shared through the database."""
