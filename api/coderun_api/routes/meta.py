"""Public information: the language table."""

from __future__ import annotations

from coderun_sandbox.languages import languages
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from coderun_api.envelope import respond

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get(
    "/languages",
    summary="Supported languages with a starter program",
    responses={
        200: {
            "description": "The language table",
            "content": {
                "application/json": {
                    "example": {
                        "code": 200,
                        "success": True,
                        "message": "languages fetched successfully",
                        "data": [
                            {
                                "key": "python",
                                "display": "Python 3",
                                "starter": "print('Hello, World!')\n",
                                "compilerOptions": [],
                            }
                        ],
                    }
                }
            },
        }
    },
)
def list_languages() -> JSONResponse:
    return respond(
        [
            {
                "key": lang.key,
                "display": lang.display,
                "starter": lang.starter,
                # Judge mode: the options a submission may send in compilerOptions.
                "compilerOptions": list(lang.compiler_options),
            }
            for lang in languages().values()
        ],
        "languages fetched successfully",
    )
