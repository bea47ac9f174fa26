"""Autolog for LangChain and LangGraph (``langchain-core`` 1.8 and ``langgraph`` 1.2 and later in
those lines; tested with langchain-core 1.8.3, langgraph 1.2.24, langchain-openai 1.8.1).

``patch()`` installs one callback handler for every LangChain run in the process, through
LangChain's own ``register_configure_hook`` (the way its LangSmith tracer is installed): every
callback manager LangChain configures from then on includes it, for runs started before or
after, clients made before or after. ``autolog(disable=True)`` takes it out again: the hook
stays registered (LangChain offers no way to unregister one) but hands LangChain no handler.

==============================  ==========================  ============================
LangChain run                   tracepond span              span type
==============================  ==========================  ============================
chain, runnable, graph          its run name                CHAIN (AGENT when it acts as
                                (``LangGraph``, a node's)   an agent: ``on_agent_action``)
chat model                      ``chat {model}``            CHAT_MODEL
LLM (text completion)           ``text_completion {model}`` LLM
tool                            ``execute_tool {tool}``     TOOL
retriever                       its name                    RETRIEVER
==============================  ==========================  ============================

Runs LangGraph marks hidden (its channel writes and branch plumbing) get no span; what they
contain nests under their parent. A LangGraph node's span records ``langgraph.node`` and
``langgraph.step``.

The model call underneath: the chat model's span is the current span while it runs, so the
provider client's span (``ChatOpenAI`` -> ``openai``, ``ChatAnthropic`` -> ``anthropic``, ...)
is its child in the same trace. When autolog traces that client, the provider's span alone
carries the model, token usage and cost (a trace's totals count each call once); otherwise the
chat model's span records them from what LangChain reports.

Errors: a run that fails (``on_*_error``) ends ERROR with the exception recorded; the exception
itself is LangChain's business and reaches the caller as it would untraced. LangGraph's control
flow exceptions (``GraphInterrupt``, ``Command`` hand-offs) are not failures.
"""

from __future__ import annotations

from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions

NAME = "langchain"
PACKAGE = "langchain_core"
INSTALL_HINT = 'pip install "tracepond[langchain]"'


def patch(patcher: Patcher, options: AutologOptions) -> None:
    """Install tracepond's callback handler for every LangChain run."""
    from tracepond.autolog import langchain_handler

    handler = langchain_handler.install(options)
    patcher.on_unpatch(
        "langchain_core.tracers.context:register_configure_hook(TracepondCallbackHandler)",
        lambda: langchain_handler.uninstall(handler),
    )
