"""The ASGI entry point for uvicorn: settings come from the environment."""

from shieldwall.web.app import create_app

app = create_app()
