"""Share of the store's per-span conversion spent scrubbing credentials (issue 12 item 8)."""

import json
import statistics
import time

import orjson
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracepond.autolog.content import encode_json
from tracepond.conventions.secrets import redacted_attributes
from tracepond.store.rows import span_record

exp = InMemorySpanExporter()
p = TracerProvider()
p.add_span_processor(SimpleSpanProcessor(exp))
msgs = json.dumps(
    [
        {"role": "system", "content": "You are a helpful support bot. " * 8},
        {"role": "user", "content": "Where is my order A1043? It was due yesterday."},
    ]
)
for _i in range(2000):
    with p.get_tracer("b").start_as_current_span("chat gpt-4o-mini") as s:
        s.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.usage.output_tokens": 17,
                "gen_ai.request.max_tokens": 256,
                "gen_ai.input.messages": msgs,
                "gen_ai.output.messages": msgs[:200],
                "server.address": "api.openai.com",
                "tracepond.span_type": "CHAT_MODEL",
                "gen_ai.response.finish_reasons": ("stop",),
            }
        )
spans = exp.get_finished_spans()
request = {"model": "gpt-4o-mini", "max_tokens": 256, "messages": json.loads(msgs)}


def per_item(fn, items, rounds=15):
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for it in items:
            fn(it)
        out.append((time.perf_counter() - t) / len(items) * 1e6)
    return statistics.median(out)


rec = per_item(lambda s: span_record(s, False), spans)
red = per_item(lambda s: redacted_attributes(s.attributes), spans)
enc = per_item(lambda r: encode_json(r, 65536), [request] * 2000)
dump = per_item(lambda r: orjson.dumps(r), [request] * 2000)
print(f"span_record {rec:.1f} us/span, of which scrubbing {red:.1f} us ({red / rec:.0%})")
print(f"autolog request encode {enc:.1f} us vs orjson.dumps {dump:.1f} us ({enc / dump:.1f}x)")
