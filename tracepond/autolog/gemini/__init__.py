"""Autolog for Google's ``google-genai`` package (Gemini API and Vertex AI; tested with 3.6).

Patched at class level (``Models`` and ``AsyncModels``), so clients created before
``autolog()`` are traced too, ``client.aio`` included:

==============================================  ====================  ============  =======
what the app calls                              operation             span type     streams
==============================================  ====================  ============  =======
``models.generate_content``                     ``generate_content``  CHAT_MODEL    no
``models.generate_content_stream``              ``generate_content``  CHAT_MODEL    yes
``chats.create(...).send_message``              ``generate_content``  CHAT_MODEL    no
``chats.create(...).send_message_stream``       ``generate_content``  CHAT_MODEL    yes
``models.embed_content``                        ``embeddings``        EMBEDDING     no
==============================================  ====================  ============  =======

One span per request the SDK sends. ``generate_content`` may send several: automatic function
calling (a Python function among ``config.tools``) asks the model, runs the function, asks
again; automatic continuation follows a ``continuation_token``. Each of those requests is its own
span with its own usage and cost, because the wrappers sit on ``Models._generate_content`` and
``Models._generate_content_stream``, the methods that send one ``generateContent`` /
``streamGenerateContent`` request each. A chat calls ``models.generate_content`` with its whole
history, so a ``send_message`` is recorded once, through that request, with the history as its
input messages (no second span for the chat).

A streamed answer ends its span on every way out: the SDK's stream is a plain generator
around ours, so ``break``, ``close()`` and garbage collection reach the traced stream
(outcome ``stopped``), a full read ends it ``complete``, an error mid-stream ``error``.

Provider ``gcp.gemini`` for the Gemini Developer API (``generativelanguage.googleapis.com``),
``gcp.vertex_ai`` for a ``Client(vertexai=True)``, as the GenAI conventions name them. What a
request and an answer record, and how safety blocks are recorded:
:mod:`tracepond.autolog.gemini.operations`. This module does not import google-genai itself:
``patch()`` does, once autolog knows it is installed.
"""

from __future__ import annotations

from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions, make_wrapper

NAME = "gemini"
PACKAGE = "google.genai"
INSTALL_HINT = 'pip install "tracepond[gemini]"'


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Install the google-genai wrappers on ``patcher``."""
    from google.genai import models

    from tracepond.autolog.gemini import operations as ops

    for cls, is_async in ((models.Models, False), (models.AsyncModels, True)):
        for method, operation in (
            ("_generate_content", ops.GenerateContent),
            ("_generate_content_stream", ops.StreamGenerateContent),
            ("embed_content", ops.EmbedContent),
        ):
            patcher.wrap(cls, method, make_wrapper(operation(is_async=is_async), options))
