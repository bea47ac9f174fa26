"""Bedrock and Groq calls land in the store, and no AWS credential or Groq key ever does: the test
flushes, then scans the store file's bytes for the secret strings."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import groq
import pytest

import tracepond
from tracepond.testing.bedrock import FakeBedrockServer
from tracepond.testing.groq import FakeGroqServer

ACCESS_KEY_ID = "AKIAZZSECRETKEYID777"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKENzzSECRET0123456789"
GROQ_KEY = "gsk_" + "StoreScanSecret9" * 3
USER = [{"role": "user", "content": [{"text": "hello store"}]}]


def store_bytes(store_path: Path) -> bytes:
    """Every byte tracepond wrote for this store (the file and any write-ahead log beside it)."""
    data = b""
    for path in store_path.parent.glob(store_path.name + "*"):
        data += path.read_bytes()
    return data


def test_bedrock_credentials_never_reach_the_store(store_path: Path) -> None:
    tracepond.configure(store=str(store_path))
    tracepond.autolog(providers=["bedrock"])
    with FakeBedrockServer() as server:
        client = boto3.client(
            "bedrock-runtime",
            **server.client_kwargs(
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
                aws_session_token=SESSION_TOKEN,
            ),
        )
        client.converse(modelId="us.amazon.nova-lite-v1:0", messages=USER)
        list(client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=USER)["stream"])
        body = json.dumps({"prompt": "hello store", "max_gen_len": 10})
        client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=body)["body"].read()
        list(
            client.invoke_model_with_response_stream(
                modelId="meta.llama3-8b-instruct-v1:0", body=body
            )["body"]
        )
        server.fail_next(403, "AccessDeniedException", "not allowed")
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
        client.close()
        sent = [r.headers for r in server.requests]
    tracepond.autolog(disable=True)
    assert tracepond.flush()
    # the credentials did leave the process (signed requests), so their absence below means something
    assert all(ACCESS_KEY_ID in h["Authorization"] for h in sent)
    assert all(h["X-Amz-Security-Token"] == SESSION_TOKEN for h in sent)
    rows = tracepond.sql(
        "SELECT model, status FROM spans WHERE provider = 'aws.bedrock' ORDER BY start_time"
    ).fetchall()
    assert [status for _model, status in rows] == ["OK", "OK", "OK", "OK", "ERROR"]
    assert rows[0][0] == "us.amazon.nova-lite-v1:0"
    data = store_bytes(store_path)
    assert b"hello store" in data  # content was stored, so the scan looks at real span data
    for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN):
        assert secret.encode() not in data, secret


def test_groq_key_never_reaches_the_store(store_path: Path) -> None:
    tracepond.configure(store=str(store_path))
    tracepond.autolog(providers=["groq"])
    with FakeGroqServer(api_key=GROQ_KEY) as server:
        with groq.Groq(api_key=GROQ_KEY, base_url=server.base_url, max_retries=0) as client:
            messages = [{"role": "user", "content": "hello store"}]
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=messages)
            list(
                client.chat.completions.create(
                    model="llama-3.1-8b-instant", messages=messages, stream=True
                )
            )
            client.chat.completions.create(
                model="llama-3.1-8b-instant",
                messages=messages,
                extra_headers={"Authorization": f"Bearer {GROQ_KEY}", "X-Api-Key": GROQ_KEY},
            )
            client.audio.transcriptions.create(
                file=("a.wav", b"RIFF0000"), model="whisper-large-v3"
            )
        wrong = groq.Groq(api_key=GROQ_KEY + "x", base_url=server.base_url, max_retries=0)
        with wrong, pytest.raises(groq.AuthenticationError):
            wrong.chat.completions.create(model="llama-3.1-8b-instant", messages=messages)
    tracepond.autolog(disable=True)
    assert tracepond.flush()
    count = tracepond.sql("SELECT count(*) FROM spans WHERE provider = 'groq'").fetchall()[0][0]
    assert count == 5
    data = store_bytes(store_path)
    assert b"hello store" in data
    assert GROQ_KEY.encode() not in data
