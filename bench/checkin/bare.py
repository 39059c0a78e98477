"""The bare endpoint the check-in is measured against (bench/checkin/run.py serves it).

One Starlette route that reads the body, parses it with `json.loads` and answers a small
JSON document: the floor of what any check-in endpoint on this framework and server
costs.  Served like privateline: one uvicorn process with uvloop and httptools.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def checkin(request: Request) -> JSONResponse:
    report = json.loads(await request.body())
    return JSONResponse({"serial": report["serial"], "next_checkin_seconds": 86400})


app = Starlette(routes=[Route("/device/v1/checkin", checkin, methods=["POST"])])
