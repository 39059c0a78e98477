"""Information services for handsets: weather forecast and biorhythm (DEV-6)."""
