"""The local web viewer (server, JSON API, OTLP/HTTP ingest, pages) and the notebook display.

Importing this package is cheap: Starlette, uvicorn and the OTLP protobufs load only when the
server is created.
"""
