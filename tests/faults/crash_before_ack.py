"""Run a service that dies after a handler's effect committed, before its ack reached NATS.

``python -m tests.faults.crash_before_ack <durable suffix> <event type> <service> serve``

The service runs unchanged, except that the first time it is about to acknowledge a message of
``<event type>`` on a durable consumer ending in ``<durable suffix>`` (the handler returned: its
transaction committed), the process writes the event's id to ``$TIREK_FAULT_REPORT`` and exits
at once with code 137, as ``kill -9`` would leave it: no ack, no shutdown.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import Any

from nats.aio.msg import Msg

EXIT_CODE = 137


def main() -> None:
    consumer, event_type, service, *rest = sys.argv[1:]
    report = os.environ.get("TIREK_FAULT_REPORT", "")
    original = Msg.ack

    async def ack(self: Msg) -> Any:
        try:
            durable = self.metadata.consumer
            body = json.loads(self.data)
        except Exception:
            return await original(self)
        if durable.endswith(consumer) and body.get("type") == event_type:
            if report:
                # Blocking on purpose: the process dies on the next line.
                with open(report, "w", encoding="utf-8") as out:  # noqa: ASYNC230
                    out.write(json.dumps({"event_id": body["id"], "subject": body["subject"]}))
            os._exit(EXIT_CODE)
        return await original(self)

    Msg.ack = ack  # type: ignore[method-assign]
    sys.argv = [service, *rest]
    runpy.run_module(service, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
