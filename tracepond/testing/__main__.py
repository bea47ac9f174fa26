"""``python -m tracepond.testing``: run the OpenAI stand-in server until interrupted."""

from __future__ import annotations

import argparse
import time

from tracepond.testing.openai import FakeOpenAIServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tracepond.testing",
        description="Serve a stand-in OpenAI API (also Groq's /openai/v1 paths) on 127.0.0.1.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8808, help="port (default 8808; 0 picks one)")
    parser.add_argument("--api-key", default=None, help="answer 401 unless this key is sent")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(args.host, args.port, api_key=args.api_key).start()
    print(f"Fake OpenAI API at {server.base_url}  (Groq clients: base_url={server.url})")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
