"""Public information: the language table."""

from __future__ import annotations

from coderun_sandbox.languages import languages
from fastapi import APIRouter
from pydantic import Field

from coderun_api.envelope import Envelope, ok
from coderun_api.results import CamelModel

router = APIRouter(prefix="/api/v1", tags=["meta"])


class LanguageOut(CamelModel):
    key: str = Field(description="What `language` takes: python, javascript, cpp or java.")
    display: str = Field(description="A name for people, e.g. Python 3.")
    starter: str = Field(description="A program to start from.")
    compiler_options: list[str] = Field(
        description="Judge mode: the options a submission may send in compilerOptions."
    )


@router.get(
    "/languages",
    summary="Supported languages with a starter program",
    response_description="The language table",
)
def list_languages() -> Envelope[list[LanguageOut]]:
    table = [
        LanguageOut(
            key=lang.key,
            display=lang.display,
            starter=lang.starter,
            compiler_options=list(lang.compiler_options),
        )
        for lang in languages().values()
    ]
    return ok(table, "languages fetched successfully")
