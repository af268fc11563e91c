"""The HTTP service (``create_app``; ``uvicorn qa.api:app_from_env --factory``)."""

from qa.api.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
