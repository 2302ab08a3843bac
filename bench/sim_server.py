"""The WeCom simulator (wecom_bot.sim.simulator) in a process of its own, for the fan-out benchmark:

    python -m bench.sim_server --latency 0.1 --url-file FILE

Writes its base URL to FILE once it listens and serves until SIGTERM. Credentials are the bench's
(bench/common.py); every robot key is accepted; WeCom's limits (20 a minute per robot) are enforced.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from bench import common
from wecom_bot.sim.simulator import SimState, SimulatorServer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--url-file", required=True)
    args = p.parse_args()
    state = SimState(
        corp_id=common.CORP_ID, secret=common.SECRET, agent_id=common.AGENT_ID, valid_keys=None, latency=args.latency
    )
    server = SimulatorServer(state)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tmp = Path(args.url_file + ".tmp")
    tmp.write_text(server.base_url)
    tmp.rename(args.url_file)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
