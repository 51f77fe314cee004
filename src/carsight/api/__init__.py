"""The scoring API: ``create_app`` builds it; ``carsight serve api`` runs it under uvicorn."""

from carsight.api.app import ApiConfigError, create_app

__all__ = ["ApiConfigError", "create_app"]
