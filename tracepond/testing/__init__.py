"""Local stand-in provider servers, for the demo, tracepond's tests, and yours.

Each runs on 127.0.0.1 with the standard library only (no extra dependency), answers the real
client libraries deterministically, logs what it received (headers included) and fails on
request (an HTTP error status, a connection dropped mid-stream, a slow first chunk)::

    from openai import OpenAI
    from tracepond.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        client = OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        ...

- :class:`FakeOpenAIServer` (:mod:`tracepond.testing.openai`): chat completions, responses,
  embeddings, legacy completions; also Groq's ``/openai/v1`` paths and Azure's deployment paths.
- :class:`FakeAnthropicServer` (:mod:`tracepond.testing.anthropic`): the Anthropic Messages API,
  JSON and server-sent events (tool use, thinking, prompt caching), and Claude on Vertex AI.
- :class:`FakeGroqServer` (:mod:`tracepond.testing.groq`): the OpenAI stand-in in Groq's dialect
  (``x_groq`` usage on streams, audio transcriptions and translations).
- :class:`FakeBedrockServer` (:mod:`tracepond.testing.bedrock`): the AWS Bedrock runtime for real
  boto3 / aiobotocore clients (``endpoint_url``): Converse, ConverseStream, InvokeModel per model
  family, InvokeModelWithResponseStream, in the AWS event-stream framing
  (:mod:`tracepond.testing.eventstream`).
- :class:`FakeGeminiServer` (:mod:`tracepond.testing.gemini`): the Gemini API for the real
  ``google-genai`` client (``http_options={"base_url": server.base_url}``): generateContent,
  streamGenerateContent (``alt=sse``), embedContent and batchEmbedContents, Google's error
  bodies (a 429 with ``RetryInfo``), streams dropped or malformed on demand.
- :class:`~tracepond.testing.server.FakeServer`, :class:`~tracepond.testing.server.Fault`:
  the shared plumbing, for writing another stand-in.

``python -m tracepond.testing --port 8808`` runs the OpenAI stand-in in the foreground.
"""

from __future__ import annotations

from tracepond.testing.anthropic import FakeAnthropicServer
from tracepond.testing.bedrock import FakeBedrockServer
from tracepond.testing.gemini import FakeGeminiServer
from tracepond.testing.groq import FakeGroqServer
from tracepond.testing.openai import FakeOpenAIServer, ScriptedReply
from tracepond.testing.server import FakeServer, Fault, RecordedRequest, Reply

__all__ = [
    "FakeAnthropicServer",
    "FakeBedrockServer",
    "FakeGeminiServer",
    "FakeGroqServer",
    "FakeOpenAIServer",
    "FakeServer",
    "Fault",
    "RecordedRequest",
    "Reply",
    "ScriptedReply",
]
