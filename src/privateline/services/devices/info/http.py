"""Routes of the information services (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from privateline.kernel.clock import Clock
from privateline.services.devices.info.weather import WeatherProvider
from privateline.storage.database import Database


def info_router(database: Database, clock: Clock, weather: WeatherProvider) -> APIRouter:
    return APIRouter()
