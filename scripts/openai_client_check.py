"""Checks slm-server's logprobs answers as the official `openai` client parses them.

Usage: openai_client_check.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)
Fails (non-zero exit, with the reason) on the first mismatch.
"""

import math
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="unused")
PROMPT = "Once upon a time"


def check_chat_tokens(content, top_n, text):
    assert content, "no logprobs.content entries"
    for t in content:
        assert isinstance(t, openai.types.chat.ChatCompletionTokenLogprob), type(t)
        assert isinstance(t.token, str) and isinstance(t.logprob, float), t
        assert t.logprob <= 0.0, t
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token, t
        assert len(t.top_logprobs) == top_n, (len(t.top_logprobs), top_n)
        lps = [a.logprob for a in t.top_logprobs]
        assert lps == sorted(lps, reverse=True), lps
        assert sum(math.exp(x) for x in lps) <= 1.0 + 1e-4, lps
        if top_n:
            assert t.logprob <= lps[0] + 1e-5, (t.logprob, lps[0])
    spelled = b"".join(bytes(t.bytes) for t in content).decode("utf-8", "replace")
    assert spelled.startswith(text.rstrip()), (spelled, text)


def check_legacy(lp, top_n, text):
    assert isinstance(lp, openai.types.completion_choice.Logprobs), type(lp)
    n = len(lp.tokens)
    assert n and len(lp.token_logprobs) == n == len(lp.top_logprobs) == len(lp.text_offset)
    assert all(isinstance(x, float) and x <= 0.0 for x in lp.token_logprobs), lp.token_logprobs
    assert all(len(d) <= top_n for d in lp.top_logprobs), lp.top_logprobs
    assert lp.text_offset[0] == len(PROMPT), lp.text_offset
    assert "".join(lp.tokens).startswith(text.rstrip()), (lp.tokens, text)


# Completions, whole and streamed: the same seed gives the same tokens both ways.
c = client.completions.create(model="tiny-random", prompt=PROMPT, max_tokens=8, logprobs=3, seed=5)
check_legacy(c.choices[0].logprobs, 3, c.choices[0].text)
streamed, text = [], ""
for chunk in client.completions.create(
    model="tiny-random", prompt=PROMPT, max_tokens=8, logprobs=3, seed=5, stream=True
):
    for choice in chunk.choices:
        text += choice.text
        if choice.logprobs:
            streamed += choice.logprobs.tokens
assert text == c.choices[0].text, (text, c.choices[0].text)
assert streamed == c.choices[0].logprobs.tokens, (streamed, c.choices[0].logprobs.tokens)

# Chat, whole and streamed.
messages = [{"role": "user", "content": "Tell me a story about a cat."}]
r = client.chat.completions.create(
    model="tiny-random", messages=messages, max_tokens=8, logprobs=True, top_logprobs=5, seed=9
)
check_chat_tokens(r.choices[0].logprobs.content, 5, r.choices[0].message.content)
content, text = [], ""
for chunk in client.chat.completions.create(
    model="tiny-random", messages=messages, max_tokens=8, logprobs=True, top_logprobs=5, seed=9,
    stream=True,
):
    for choice in chunk.choices:
        text += choice.delta.content or ""
        if choice.logprobs and choice.logprobs.content:
            content += choice.logprobs.content
check_chat_tokens(content, 5, text)
assert [t.token for t in content] == [t.token for t in r.choices[0].logprobs.content]

# Off unless asked; a bad value is a 400 naming the parameter.
r = client.chat.completions.create(model="tiny-random", messages=messages, max_tokens=4)
assert r.choices[0].logprobs is None, r.choices[0].logprobs
try:
    client.chat.completions.create(model="tiny-random", messages=messages, logprobs=True, top_logprobs=21)
    raise AssertionError("top_logprobs=21 was accepted")
except openai.BadRequestError as e:
    assert e.body["param"] == "top_logprobs", e.body
print("openai client %s: logprobs parse on completions and chat, streaming and not" % openai.__version__)
