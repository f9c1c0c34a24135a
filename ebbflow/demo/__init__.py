"""`ebbflow demo`: the whole system on one machine, with nothing installed beyond the package.

SQLite stores, the synthetic world behind the local emulator, a local fleet (Ray's own autoscaler starting
real raylets for spot and on-demand node types), our autoscaler deciding what that fleet should be, cron,
maintenance and the dispatcher, all driven by a realistic mix of work. `run_demo` is the entry point.
"""

from ebbflow.demo.run import DemoOptions, DemoReport, run_demo

__all__ = ["DemoOptions", "DemoReport", "run_demo"]
