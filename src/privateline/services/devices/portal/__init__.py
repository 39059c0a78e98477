"""The device owner's portal, `/device` (R-2, R-6, DEV-5, DEV-6, DEV-9, DEV-10).

An owner signs in with the phone's number and device password and sees every piece of
data held about the phone, switches its services, sets the nickname, edits or deletes
the information profile, answers update offers and downloads everything as JSON.  It
never asks who the owner is (DEV-5).  `http.portal_router` builds the routes.
"""
