"""Request bodies, validated where they enter; unknown fields are accepted and ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from qa import answer as answering
from qa.errors import BadRequest
from qa.search import MAX_TOP_K

MAX_QUESTION_CHARS = 2000
NO_WORDS = "must contain a word or a number, not only punctuation or symbols"


def has_words(text: str) -> bool:
    """Whether the text holds a letter, a Han character, kana or a digit (``？？？`` and ``😀`` do
    not: there is nothing to search for)."""
    return any(c.isalnum() for c in text)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="the question")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    sources: list[str] | None = Field(None, description="limit to these source files")
    article_ids: list[str] | None = Field(None, description="limit to these articles")

    @field_validator("query")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query must not be blank")
        if not has_words(v):
            raise ValueError(f"query {NO_WORDS}")
        return v


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_QUESTION_CHARS)


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)
    stream: bool = False

    @field_validator("messages")
    @classmethod
    def last_is_question(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        users = [m for m in v if m.role == "user"]
        if not users or not users[-1].content.strip():
            raise ValueError("messages must end with a non-empty user question")
        if not has_words(users[-1].content):
            raise ValueError(f"the question {NO_WORDS}")
        return v


class OpenAIMessage(BaseModel):
    """A Chat Completions message; ``content`` may be a string or a list of parts."""

    role: Literal["user", "assistant", "system", "developer", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    model_config = {"extra": "allow"}  # name, tool_calls, tool_call_id, …

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones, in order
            return "\n".join(
                str(p.get("text", "")) for p in self.content if p.get("type") == "text"
            )
        return self.content or ""

    def only_images(self) -> bool:
        parts = self.content if isinstance(self.content, list) else []
        return bool(parts) and not any(p.get("type") == "text" for p in parts)


class StreamOptions(BaseModel):
    include_usage: bool = False

    model_config = {"extra": "allow"}


class CompletionRequest(BaseModel):
    """OpenAI Chat Completions. What front-ends add (tools, temperature, max_tokens, seed, user,
    …) is accepted and ignored: the answer is extracted from the articles, not generated."""

    model: str = "qa"
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)

    model_config = {"extra": "allow"}


def to_messages(msgs: list[ChatMessage] | list[OpenAIMessage]) -> list[answering.Message]:
    """The conversation as the answerer reads it: user and assistant turns, text only."""
    out = []
    last_user: ChatMessage | OpenAIMessage | None = None
    for m in msgs:
        if m.role not in ("user", "assistant"):
            continue  # system prompts and tool results say nothing about the articles
        text = m.text() if isinstance(m, OpenAIMessage) else m.content
        if m.role == "user":
            last_user = m
            if len(text) > MAX_QUESTION_CHARS:
                raise BadRequest(f"a question must be at most {MAX_QUESTION_CHARS} characters")
        out.append(answering.Message(m.role, text))
    if isinstance(last_user, OpenAIMessage) and last_user.only_images():
        raise BadRequest("this service answers text questions; the last message has no text part")
    if not out or out[-1].role != "user" or not out[-1].content.strip():
        raise BadRequest("messages must end with a non-empty user question")
    if not has_words(out[-1].content):
        raise BadRequest(f"the question {NO_WORDS}")
    return out
