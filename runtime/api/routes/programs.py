"""Programs: upload (compiled, or a project compiled on upload), list, get; aliases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from runtime.api.deps import Admin, Caller, RuntimeDep
from runtime.api.errors import ERROR_RESPONSES, ApiError
from runtime.api.models import (
    NAME,
    AliasOut,
    AliasRequest,
    ProgramList,
    ProgramOut,
    ProgramUpload,
    ProjectUpload,
)
from runtime.programs import CompileFailedError
from runtime.wiring import ProgramInfo
from schemas.program import Program

router = APIRouter(prefix="/v1", tags=["programs"], responses=ERROR_RESPONSES)

CompileDict = Callable[[Mapping[str, Any]], Any]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _out(info: ProgramInfo, **extra: Any) -> dict[str, Any]:
    return {**info.to_json(), **extra}


def _compiled(body: dict[str, Any]) -> Program:
    try:
        program = Program.model_validate(body)
    except ValidationError as e:
        errors = [
            {"loc": [str(x) for x in err["loc"]], "msg": err["msg"]} for err in e.errors()[:20]
        ]
        raise ApiError(
            422,
            "invalid_program",
            f"not a compiled ddtflow program ({e.error_count()} problems)",
            errors=errors,
        ) from None
    computed = program.with_id()
    if program.id and program.id != computed.id:
        raise ApiError(
            422,
            "program_id_mismatch",
            "the program's id is not the sha256 of its content (edited after compiling?)",
            program_id=program.id,
            computed=computed.id,
        )
    return computed


@router.post(
    "/programs",
    status_code=201,
    response_model=ProgramOut,
    summary="Upload a compiled program or a project (compiled on upload)",
)
async def upload_program(
    body: Annotated[ProgramUpload, Body()], request: Request, rt: RuntimeDep, caller: Admin
) -> Response:
    warnings: list[dict[str, Any]] = []
    if isinstance(body, ProjectUpload):
        compile_dict: CompileDict | None = request.app.state.compile_project
        if compile_dict is None:
            raise ApiError(422, "compile_disabled", "this server does not compile projects")
        result = compile_dict(body.project)
        if not result.ok or result.program is None:
            errors = [d for d in result.diagnostics if d.severity == "error"]
            raise CompileFailedError(
                f"the project has {len(errors)} error(s)", list(result.diagnostics)
            )
        program = result.program
        warnings = [d.model_dump(mode="json") for d in result.diagnostics]
    else:
        program = _compiled(body.program)
    loaded, created = await rt.catalog.add(caller.tenant, program)
    info = await rt.catalog.info(caller.tenant, loaded.id)
    return _json(_out(info, created=created, warnings=warnings), 201 if created else 200)


@router.get("/programs", response_model=ProgramList, summary="This tenant's programs and aliases")
async def list_programs(rt: RuntimeDep, caller: Caller) -> Response:
    items = await rt.catalog.list(caller.tenant)
    aliases = await rt.catalog.aliases(caller.tenant)
    return _json({"programs": [_out(i) for i in items], "aliases": aliases})


@router.get("/programs/{program_id}", response_model=ProgramOut, summary="One program")
async def get_program(
    rt: RuntimeDep, caller: Caller, program_id: str = Path(pattern=NAME)
) -> Response:
    pid = await rt.catalog.resolve(caller.tenant, program_id)
    return _json(_out(await rt.catalog.info(caller.tenant, pid)))


@router.put(
    "/aliases/{name}",
    response_model=AliasOut,
    summary="Point an alias (e.g. booking@live) at a program, atomically",
)
async def put_alias(
    body: AliasRequest, rt: RuntimeDep, caller: Admin, name: str = Path(pattern=NAME)
) -> Response:
    if name.startswith("sha256:"):
        raise ApiError(422, "validation_error", "an alias cannot look like a program id")
    previous = await rt.catalog.set_alias(caller.tenant, name, body.program_id)
    return _json({"name": name, "program_id": body.program_id, "previous": previous})
