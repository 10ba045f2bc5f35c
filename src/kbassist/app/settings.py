"""Typed settings. Every field can be set with a KBASSIST_ variable; CLI flags win."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kbassist.core.llm import DEFAULT_OPENAI_MODEL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KBASSIST_", extra="forbid", frozen=True)

    kb: Path = Field(Path("knowledge"), description="Knowledge package folder.")
    data_dir: Path = Field(
        Path(".kbassist"), description="Index, audit log and eval history live here."
    )
    llm: Literal["offline", "openai", "local"] = Field(
        "offline", description="Who writes the text: the offline composer or an LLM."
    )
    model: str = Field(DEFAULT_OPENAI_MODEL, description="Model name for the openai backend.")
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "KBASSIST_OPENAI_BASE_URL"),
        description="Any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).",
    )
    openai_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "KBASSIST_OPENAI_API_KEY"),
        description="API key for the openai backend; never logged.",
        repr=False,
    )
    llm_timeout: float = Field(30.0, description="Seconds before an LLM call is abandoned.")
    llm_retries: int = Field(2, description="Retries on 429/5xx/connection errors.")
    max_revisions: int = Field(
        2, description="How often governance asks the LLM to revise before repairing."
    )
    chroma_url: str | None = Field(
        None, description="Chroma server URL; unset means embedded Chroma under data_dir."
    )
    top_k: int = Field(8, description="Passages retrieved per question.")
    auth_file: Path | None = Field(None, description="Users file with hashed passwords (UI).")
    audit: bool = Field(True, description="Record every output in <data_dir>/audit.sqlite3.")
    audit_retention_days: int | None = Field(
        None, description="Delete audit rows older than this many days; unset keeps them all."
    )
    redact_questions: bool = Field(
        False, description="Store questions and prospect inputs redacted (hashed for grouping)."
    )


def load_settings(
    overrides: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Settings from the environment (or ``env``), with explicit overrides on top."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if env is None:
        return Settings(**given)  # type: ignore[arg-type]
    relevant = {
        key: value
        for key, value in env.items()
        if key.startswith("KBASSIST_") or key in {"OPENAI_BASE_URL", "OPENAI_API_KEY"}
    }
    return _from_mapping(relevant, given)


def _from_mapping(env: Mapping[str, str], given: Mapping[str, object]) -> Settings:
    values: dict[str, object] = {}
    for name, field in Settings.model_fields.items():
        aliases = (
            list(field.validation_alias.choices)
            if isinstance(field.validation_alias, AliasChoices)
            else [f"KBASSIST_{name.upper()}"]
        )
        for alias in aliases:
            if isinstance(alias, str) and alias in env:
                values[name] = env[alias]
                break
    values.update(given)
    return Settings.model_validate(values)
