"""One budget per user request, wherever the request goes: two FastAPI services sharing a Redis ledger.

    redis-server --port 6379 &                       # the ledger both services share
    uv run synapsekit serve --port 9999 &            # or leave OPENAI_BASE_URL unset to use OpenAI
    export OPENAI_BASE_URL=http://127.0.0.1:9999/v1
    python examples/distributed_budget.py            # starts both services, sends requests, stops them

The "api" service opens ``synapsekit.budget(max_cost_usd=0.00004, propagate=True)`` for each user request and
asks the "tools" service to do the work. Both registered the same Redis under the name "shared" (with a shared
secret that signs the budget's identity), so the tools service admits its LLM calls against the request's
budget: the fifth call is refused there before it is sent, and the api service sees what the tools spent.
Only the identity travels (W3C baggage ``synapsekit.budget=1.shared.<id>.<signature>``), never the Redis URL.

Run a service alone with ``python distributed_budget.py tools PORT`` or
``python distributed_budget.py api PORT TOOLS_URL``.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

LEDGER_URL = os.environ.get("LEDGER_URL", "redis://127.0.0.1:6379/0")
SECRET = os.environ.get("BUDGET_SECRET", "change-me: the same secret in every service")


def serve(role: str, port: int, tools_url: str = "") -> None:
    import httpx2
    import openai
    import uvicorn
    from fastapi import FastAPI

    import synapsekit
    from synapsekit import BudgetExceeded
    from synapsekit.observability import DistributedTracer, TraceContextMiddleware

    # Each service maps the name "shared" to a ledger it configured itself.
    synapsekit.register_ledger("shared", LEDGER_URL, secret=SECRET)
    synapsekit.instrument("openai")
    tracer = DistributedTracer(service_name=f"{role}-service")
    api = FastAPI()

    if role == "tools":
        sdk = openai.AsyncOpenAI(api_key=os.environ.get("OPENAI_API_KEY", "sk-..."))

        @api.get("/work")
        async def work(steps: int) -> dict[str, object]:
            # TraceContextMiddleware joined the caller's budget: every call here is admitted against it.
            answered, refused_by = 0, None
            try:
                for step in range(steps):
                    await sdk.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[{"role": "user", "content": f"Do step {step}"}],
                        max_tokens=20,
                    )
                    answered += 1
            except BudgetExceeded as exc:
                refused_by = exc.budget_name  # the budget of the request that came in, by its name
            return {
                "answered": answered,
                "refused_by": refused_by,
                "refusals": synapsekit.budget_join_refusals(),
            }

    else:
        # Outgoing requests of this client carry the trace context and the budget's identity.
        http = tracer.instrument_http_client(httpx2.AsyncClient(base_url=tools_url, timeout=30))

        @api.get("/ask")
        async def ask(steps: int) -> dict[str, object]:
            with synapsekit.budget(
                max_cost_usd=0.00004, name="user-request", ledger=LEDGER_URL, propagate=True
            ) as request_budget:
                tools = (await http.get("/work", params={"steps": steps})).json()
            return {"tools": tools, "spent_usd": request_budget.spent_usd}

    @api.get("/health")
    async def health() -> bool:
        return True

    uvicorn.run(TraceContextMiddleware(api, tracer), host="127.0.0.1", port=port, log_level="warning")


def get(url: str, headers: dict[str, str] | None = None) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
        return json.loads(response.read())


def start(*args: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, *args])
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"http://127.0.0.1:{args[1]}/health")
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


def demo() -> None:
    tools_port, api_port = int(os.environ.get("TOOLS_PORT", "8701")), int(os.environ.get("API_PORT", "8702"))
    tools_url = f"http://127.0.0.1:{tools_port}"
    services = [start("tools", str(tools_port))]
    try:
        services.append(start("api", str(api_port), tools_url))
        for request in ("first", "second"):  # each user request has a budget of its own
            reply = get(f"http://127.0.0.1:{api_port}/ask?steps=6")
            tools = reply["tools"]
            print(
                f"{request} request: {tools['answered']} tool calls, then refused by {tools['refused_by']!r}"
            )
            print(f"{request} request: the api service sees ${reply['spent_usd']:.6f} spent of $0.000040")
        # A forged identity joins nothing: unsigned (or wrongly signed), it is refused before the ledger is
        # asked; even signed, it could only name a budget that exists, never set a limit.
        forged = {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "baggage": "synapsekit.budget=1.shared." + "0" * 32,
        }
        reply = get(f"{tools_url}/work?steps=1", forged)
        print(f"forged identity: joins nothing, refusals counted {reply['refusals']}")
    finally:
        for process in services:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        serve(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
    else:
        demo()
