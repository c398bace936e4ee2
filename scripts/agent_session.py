"""The Workflow-4 session in docs/agent.md, from a real run: two peers on loopback (mac-mini,
tier 0, whose agent chooses tools; alienware, tier 1), each with a scripted OpenAI-compatible
model (sim/fake_openai.py), a SearXNG stand-in for web_search, and `harombe chat --tools`.

    PYTHONPATH=$PWD python scripts/agent_session.py OUT_DIR

writes OUT_DIR/cli.txt (what the person sees), events.ndjson (the raw events) and show.txt
(`harombe conversations show`). Loopback only, mDNS off, nothing downloaded.
"""

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from support.agent_support import agent_chat, searxng_app, serve
from support.cli_support import client_config, cluster, node_config, run_harombe, url_of

from sim.fake_openai import FakeOpenAI, Reply

TASK = "Search for recent papers on mixture-of-experts routing and analyse the trends"
RESULTS = [
    {
        "url": "https://arxiv.org/abs/2501.01001",
        "title": "Expert Choice Routing Revisited (2025)",
        "content": "Expert-choice routing balances load without auxiliary losses.",
    },
    {
        "url": "https://arxiv.org/abs/2409.02002",
        "title": "Sparse Upcycling at Scale (2024)",
        "content": "Dense checkpoints upcycled into MoE models train 40% faster.",
    },
]


def script(small: FakeOpenAI, big: FakeOpenAI) -> None:
    small.script.extend(
        [
            Reply(
                pieces=[],
                tool_call=("web_search", {"query": "mixture-of-experts routing papers 2025"}),
            ),
            Reply(
                pieces=[],
                tool_call=(
                    "write_file",
                    {
                        "path": "moe-papers.md",
                        "content": "- Expert Choice Routing Revisited (2025)\n"
                        "- Sparse Upcycling at Scale (2024)\n",
                    },
                ),
            ),
            Reply(pieces=["Saved the two papers to moe-papers.md."]),
        ]
    )
    big.script.append(
        Reply(
            pieces=[
                "Two trends: ",
                "routing moves from token-choice to expert-choice ",
                "(load balance without auxiliary losses), ",
                "and MoE models are increasingly upcycled from dense checkpoints. ",
                "The list is in moe-papers.md.",
            ]
        )
    )


def write(path: Path, text: str) -> None:
    path.write_text(text)


async def main(tmp: Path) -> None:
    async with (
        FakeOpenAI("llama3.2:3b") as small,
        FakeOpenAI("qwen2.5:14b") as big,
        serve(searxng_app(RESULTS, [])) as search,
    ):
        mini = node_config(
            "mac-mini",
            0,
            backend={"kind": "openai", "url": small.url, "model": small.model},
            agent={
                "data_dir": str(tmp / "mini"),
                "workspace": str(tmp / "ws"),
                "tool_tier": 0,
                "search_url": search,
            },
        )
        alien = node_config(
            "alienware",
            1,
            backend={"kind": "openai", "url": big.url, "model": big.model},
            agent={"data_dir": str(tmp / "alien"), "workspace": str(tmp / "ws")},
        )
        async with cluster(mini, alien) as nodes:
            url = url_of(nodes[0])
            script(small, big)
            events = await agent_chat(url, {"message": TASK})
            write(tmp / "events.ndjson", "".join(json.dumps(e) + "\n" for e in events))
            script(small, big)
            cfg = str(client_config(tmp / "c.yaml"))
            proc = await run_harombe(
                "chat", "--tools", TASK, "--peer", url, "--config", cfg, home=tmp
            )
            shown_cli = f'$ harombe chat --tools "{TASK}"\n' + proc.stderr + "----\n" + proc.stdout
            write(tmp / "cli.txt", shown_cli)
            conv = proc.stderr.strip().splitlines()[-1].removeprefix("conversation ")
            shown = await run_harombe(
                "conversations", "show", conv, "--peer", url, "--config", cfg, home=tmp
            )
            write(tmp / "show.txt", shown.stdout + shown.stderr)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(exist_ok=True)
    asyncio.run(main(out))
