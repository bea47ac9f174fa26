"""The Model Context Protocol server: coding agents read traces through tools and resources.

``tracepond mcp`` (stdio) or ``tracepond mcp --http --port N`` (streamable HTTP on loopback);
built on the official ``mcp`` SDK, installed by ``pip install "tracepond[mcp]"``.
"""
