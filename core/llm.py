"""One question to a multimodal LLM: which endpoint and key, one chat
completion with one image, its answer checked to be a short name (or one of
a list of allowed names), and every failure turned into a sentence.

The API key (``OPENAI_API_KEY``) is read when naming starts. It is never
logged, never stored in a cache, and never put in a NameResult or an
exception message: server error text is passed through ``redact`` first.
A server that is not api.openai.com (vLLM, Ollama, ...) may be used without a
key; the client then sends the placeholder key ``EMPTY``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image

from .naming_views import image_data_url
from .settings import Settings

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"
"""Sent as the key to a non-OpenAI server when OPENAI_API_KEY is unset."""
RETRIES = 1
"""Extra attempts after a rate limit (429), a server error (5xx) or a lost connection."""
MAX_RETRY_WAIT = 10.0
"""Longest wait in seconds before a retry, whatever Retry-After says."""

SYSTEM_PROMPT = (
    "You name 3D objects and their parts from rendered images. Answer with a short "
    "name only: 1 to 5 words of letters, digits, spaces or hyphens, no punctuation, "
    "no explanation.")
LABEL_REMINDER = (
    "'{answer}' is not one of the allowed names. Answer with exactly one of: {names}.")
HOW_TO_ENABLE = (
    "Part naming needs a multimodal LLM: set OPENAI_API_KEY to use OpenAI, or set "
    "OPENAI_BASE_URL to an OpenAI-compatible server (vLLM, Ollama, ...; no key needed "
    "there); PARTSCOPE_LLM_MODEL picks the model (default gpt-4o).")


@dataclass(frozen=True)
class NameResult:
    """The outcome for one part: exactly one of ``name`` and ``error`` is set.

    name : str or None, lowercase, 1-5 words of letters, digits, spaces, hyphens
    error : str or None, one sentence for a person
    """

    name: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.name is not None


class NamingUnavailable(RuntimeError):
    """Naming cannot start (no key, no client); the message says how to enable it."""


class MalformedAnswer(ValueError):
    """The model's answer is not a short name."""


class OutsideLabelSet(MalformedAnswer):
    """The model's answer is not one of the allowed names."""


class Refusal(ValueError):
    """The model declined to answer."""


class NotACompletion(ValueError):
    """The server's answer is not a chat completion (not JSON, no choices)."""


# ----------------------------------------------------------------- settings


def endpoint(settings: Settings) -> str:
    """The chat-completions base URL in use: OPENAI_BASE_URL or OpenAI's."""
    return (settings.openai_base_url or OPENAI_URL).rstrip("/")


def is_openai(base_url: str) -> bool:
    """True when ``base_url`` is OpenAI's own API (which always needs a key)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "openai.com" or host.endswith(".openai.com")


def naming_unavailable_reason(settings: Settings) -> str | None:
    """None when naming can start, else a sentence saying how to enable it."""
    if settings.openai_api_key is None and is_openai(endpoint(settings)):
        return HOW_TO_ENABLE
    return None


def api_key(settings: Settings) -> str:
    reason = naming_unavailable_reason(settings)
    if reason is not None:
        raise NamingUnavailable(reason)
    return settings.openai_api_key or PLACEHOLDER_KEY


def display_url(url: str) -> str:
    """``url`` without user:password, for logs and messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


_MASKED = re.compile(r"\S*\*{3,}\S*|\bsk-[\w\-*]+")
_WORDS = re.compile(r"[\w\-]{4,}")


def redact(text: str, secret: str | None) -> str:
    """``text`` with the secret, key-like tokens and fragments of the secret removed.

    Servers echo keys in error messages ("Incorrect API key provided:
    sk-ab****wxyz"): the whole key, any masked token, any ``sk-`` token and
    any run of 4+ word characters that is a piece of the secret become
    ``[redacted]``.
    """
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _MASKED.sub("[redacted]", text)
    if secret and len(secret) >= 8:
        text = _WORDS.sub(lambda m: "[redacted]" if m.group(0) in secret else m.group(0), text)
    return text


# ----------------------------------------------------------------- answers

_NAME = re.compile(r"[^\W_]+(?:-[^\W_]+)*(?: [^\W_]+(?:-[^\W_]+)*){0,4}")
_REFUSAL = re.compile(r"^(i'?m sorry|i am sorry|sorry|i can'?t|i cannot|i'?m unable|i am unable)\b")
MAX_NAME_CHARS = 60


def parse_name(text: str | None) -> str:
    """The short name in a model's answer, lowercased, or MalformedAnswer.

    Accepted: 1 to 5 words of letters and digits, joined by single spaces or
    hyphens, at most 60 characters. Only surrounding whitespace, one pair of
    surrounding quotes and one trailing period are forgiven; anything else
    (a sentence, a colon, a list, markdown) is malformed. Answers that start
    like an apology ("I'm sorry, ...") raise Refusal.
    """
    if not text or not text.strip():
        raise MalformedAnswer("the answer was empty")
    answer = " ".join(text.split()).lower()
    if _REFUSAL.match(answer):
        raise Refusal(answer)
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1].strip()
    if answer.endswith("."):
        answer = answer[:-1].rstrip()
    if len(answer) > MAX_NAME_CHARS or not _NAME.fullmatch(answer):
        raise MalformedAnswer(answer)
    return answer


def label_key(text: str) -> str:
    """How names are compared: lowercase, '_' and '-' as spaces, one space."""
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def match_label(text: str | None, labels) -> str:
    """The allowed name the model's answer is, or OutsideLabelSet.

    Compared without case, with '_', '-' and runs of spaces as one space, and
    an 's' of a plural forgiven ('Legs' is 'leg'); one pair of surrounding
    quotes and a trailing period (inside or outside them) are forgiven. Apologies
    raise Refusal. returns the name as written in ``labels``.
    """
    if not text or not text.strip():
        raise MalformedAnswer("the answer was empty")
    answer = " ".join(text.split())
    if _REFUSAL.match(answer.lower()):
        raise Refusal(answer)
    answer = answer.rstrip(".").strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1].strip().rstrip(".").strip()
    key = label_key(answer)
    for candidate in (key, key[:-1] if key.endswith("s") else None, key + "s"):
        for label in labels:
            if candidate and label_key(label) == candidate:
                return label
    raise OutsideLabelSet(answer)


def label_list(labels) -> str:
    return ", ".join(f'"{label}"' for label in labels)


def _snippet(text: str, key: str | None, limit: int = 60) -> str:
    text = redact(" ".join(str(text).split()), key)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _ask(client, model: str, prompt: str, image_url: str, labels=None) -> str:
    """One chat completion with one image (a data URL); the parsed name, or
    raises. With ``labels`` (allowed names) the answer must be one of them:
    an answer outside the set is pointed out once, in the same conversation."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]},
    ]
    if labels is None:
        return parse_name(_complete(client, model, messages))
    content = _complete(client, model, messages)
    try:
        return match_label(content, labels)
    except OutsideLabelSet as exc:
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": LABEL_REMINDER.format(
                         answer=_snippet(exc, None), names=label_list(labels))}]
    return match_label(_complete(client, model, messages), labels)


def _complete(client, model: str, messages: list) -> str | None:
    """The text of one chat completion, or raises NotACompletion / Refusal."""
    try:
        response = client.chat.completions.create(model=model, messages=messages)
    except json.JSONDecodeError as exc:
        raise NotACompletion("its body is not JSON") from exc
    choices = getattr(response, "choices", None)
    message = getattr(choices[0], "message", None) if choices else None
    if message is None:
        raise NotACompletion("it has no message")
    if getattr(message, "refusal", None) or choices[0].finish_reason == "content_filter":
        raise Refusal("refused")
    return message.content


def _server_message(exc) -> str:
    """The server's own error text of an openai APIStatusError (unredacted)."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return re.sub(r"^Error code: \d+ - ", "", str(exc.message))


def _retry_wait(exc) -> float:
    """Seconds to wait before retrying after ``exc`` (Retry-After, capped)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_WAIT)
    except (TypeError, ValueError):
        return 1.0


def ask_safely(client, model: str, prompt: str, image: Image.Image, *, key: str | None,
                timeout: float, url: str, labels=None) -> NameResult:
    """``_ask`` with retries for transient failures; every failure becomes a
    NameResult with a sentence (redacted), never an exception."""
    import openai

    image_url = image_data_url(image)
    for attempt in range(RETRIES + 1):
        last = attempt == RETRIES
        try:
            return NameResult(name=_ask(client, model, prompt, image_url, labels))
        except Refusal:
            return NameResult(error="The model declined to name this part.")
        except OutsideLabelSet as exc:
            return NameResult(error=f"The model's answer '{_snippet(exc, key)}' is not one of "
                                    "the allowed names, also when asked again.")
        except MalformedAnswer as exc:
            return NameResult(error=f"The model's answer was not a short name: "
                                    f"'{_snippet(exc, key)}'.")
        except NotACompletion as exc:
            return NameResult(error=f"The answer from {display_url(url)} is not a chat "
                                    f"completion ({exc}): is OPENAI_BASE_URL an OpenAI-compatible "
                                    "endpoint (usually ending in /v1)?")
        except openai.APITimeoutError:
            return NameResult(error=f"The model server did not answer within {timeout:g} s; "
                                    "try again.")
        except openai.RateLimitError as exc:
            if last:
                return NameResult(error="The model server is rate-limiting requests (HTTP 429); "
                                        "try again in a moment.")
            time.sleep(_retry_wait(exc))
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            return NameResult(error=f"The model server at {display_url(url)} refused the "
                                    f"API key (HTTP {exc.status_code}): check OPENAI_API_KEY.")
        except openai.InternalServerError as exc:
            if last:
                return NameResult(error=f"The model server failed (HTTP {exc.status_code}): "
                                        f"{_snippet(_server_message(exc), key, 120)}")
            time.sleep(_retry_wait(exc))
        except openai.APIStatusError as exc:
            detail = _snippet(_server_message(exc), key, 120)
            return NameResult(error=f"The model server rejected the request "
                                    f"(HTTP {exc.status_code}): {detail}")
        except openai.APIConnectionError:
            if last:
                return NameResult(error=f"Could not reach the model server at "
                                        f"{display_url(url)}: is it running?")
            time.sleep(1.0)
        except openai.APIError as exc:
            return NameResult(error=f"The model server's answer could not be read: "
                                    f"{_snippet(exc.message, key, 120)}")
    raise AssertionError("unreachable: the last attempt always returns")
