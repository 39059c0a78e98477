"""Information services for handsets: weather forecast and biorhythm (DEV-6).

`http.info_router` mounts both interfaces: the handsets' Info Center in XHTML-GP
(`handset.py`, protocol facts and parameter parsing in `gigaset.py`, pages in
`templates/`, German and Dutch texts in `locale/`) and a JSON API (`api.py`).  Both go
through `service.py`, which refuses unknown devices and devices whose information
services are off before any profile is read or created.  `weather.py` holds the
forecast providers, `biorhythm.py` the (pure) biorhythm arithmetic.
"""
