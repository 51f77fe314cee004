"""A deterministic synthetic Korean car business.

Customers, purchases, leads, service, call-centre consultations, campaigns and monthly sales,
written as realistic files and loaded through ingest, with planted and documented structure
(docs/demo-data.md) that the analytics must recover.
"""

from carsight.demo.build import build_demo, generate, load_demo

__all__ = ["build_demo", "generate", "load_demo"]
