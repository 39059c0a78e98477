"""The public privacy center, `/privacy-center` (R-1, R-10).

The front door for anyone who wants to use their data protection rights: the rights in
brief, the controller, the data protection officer and the supervisory authority with
postal address, phone and e-mail, and "who are you?", which sends each kind of data
subject to the channel that proves who they are.  It shows nothing about anyone.
`http.privacy_center_router` builds the route.
"""
