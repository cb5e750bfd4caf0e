"""``python -m synapsekit.testing``: serve the LLM test server until interrupted."""

from __future__ import annotations

import argparse
import sys
import threading

from ._server import LLMTestServer


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synapsekit.testing",
        description=(
            "Serve a local LLM test server (OpenAI, Anthropic, Gemini, Bedrock, Mistral, Cohere and Ollama"
            " wire formats) until interrupted."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: 0, an ephemeral port)")
    parser.add_argument("--output-tokens", type=int, default=12, help="words per completion (default: 12)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer (default: 0)")
    args = parser.parse_args(argv)
    try:
        server = LLMTestServer(
            host=args.host, port=args.port, output_tokens=args.output_tokens, latency_s=args.latency_ms / 1000
        )
        server.start()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The first stdout line is the bare base URL, so scripts can read it.
    print(server.base_url, flush=True)
    base_urls = {
        "OpenAI": server.openai_base_url,
        "Anthropic": server.anthropic_base_url,
        "Gemini": server.gemini_base_url,
        "Bedrock": server.bedrock_base_url,
        "Mistral": server.mistral_base_url,
        "Cohere": server.cohere_base_url,
        "Ollama": server.ollama_base_url,
    }
    for name, url in base_urls.items():
        print(f"{name} base URL: {url}", file=sys.stderr)
    print("(Ctrl+C to stop)", file=sys.stderr, flush=True)
    waiter = stop or threading.Event()
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
