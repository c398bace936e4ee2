"""The parts of one peer and how they fit: harombed's `Node` (harombe/daemon.py), the
simulator's peers (sim/peer.py) and the tests' harnesses (tests/support/) assemble a peer from
these, so each piece of wiring is written once.

- `listen`: the listening socket, the address this peer gives the cluster, the peer links;
- `gossip`: membership on the running loop (the sans-I/O core and its runner);
- `connect`: how routing reaches another node (forwarded, signed, or a sponsored server);
- `app`: the HTTP API over a dispatcher, and the edge middlewares in front of it;
- `record`: what the backend serves, and this peer's gossiped record, rebuilt on a timer;
- `status`: the rows of /cluster/status;
- `monitoring`: /metrics, /cluster/stats and the dashboard, fed by every request's end;
- `discovery`: mDNS and the seeds, started and stopped as one;
- `agent`: the tool-calling agent wired to the dispatcher and the membership;
- `tasks`: stopping a background task without swallowing the caller's cancellation.
"""
