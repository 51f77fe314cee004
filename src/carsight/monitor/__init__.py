"""Monitoring: checks of data, models and key business figures, with deduplicated alerts.

Alerts are stored, e-mailed and closed when their cause clears (docs/monitoring.md).
"""

from carsight.monitor.alerts import read_alerts
from carsight.monitor.findings import Finding
from carsight.monitor.run import MonitorRun, run_monitor

__all__ = ["Finding", "MonitorRun", "read_alerts", "run_monitor"]
