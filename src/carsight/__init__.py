"""carsight: customer and sales intelligence for automotive sales organisations."""

__version__ = "0.1.0"
