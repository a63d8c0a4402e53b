"""Hub methods: what a client may invoke, and how its arguments are checked.

A method is an async function whose first parameter is the caller (a `HubPrincipal`) and
whose other parameters are the invocation's arguments, in order, typed. The types are read
from the annotations once, at registration, and each argument is converted with msgspec
(strictly: `"5"` is no `int`); a JSON object becomes a `msgspec.Struct` or a dataclass
whose field names are the object's keys, so `SendMediaMessage(chatId, {Name, Format,
DataBase64, Type})` takes a Struct with exactly those fields. A wrong count or type is
answered in the invocation's Completion, naming the argument; the connection stays up.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

Handler = Callable[..., Awaitable[Any]]


class BadArguments(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: Any
    required: bool


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    handler: Handler
    parameters: tuple[Parameter, ...]

    @classmethod
    def of(cls, name: str, handler: Handler) -> Method:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"hub method {name!r} must be an async function")
        signature = inspect.signature(handler)
        hints = typing.get_type_hints(handler)
        listed = list(signature.parameters.values())
        if not listed:
            raise TypeError(f"hub method {name!r} must take the caller as its first parameter")
        parameters = []
        for p in listed[1:]:
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                raise TypeError(f"hub method {name!r}: parameter {p.name!r} must be positional")
            parameters.append(Parameter(p.name, hints.get(p.name, Any), p.default is p.empty))
        return cls(name, handler, tuple(parameters))

    def bind(self, arguments: Sequence[Any]) -> list[Any]:
        """The arguments converted to the parameters' types, or `BadArguments` saying why."""
        least = sum(1 for p in self.parameters if p.required)
        most = len(self.parameters)
        if not least <= len(arguments) <= most:
            names = ", ".join(p.name for p in self.parameters)
            wanted = str(most) if least == most else f"{least} to {most}"
            raise BadArguments(
                f"'{self.name}' takes {wanted} argument{'s' if most != 1 else ''} "
                f"({names}), got {len(arguments)}"
            )
        bound = []
        for parameter, value in zip(self.parameters, arguments, strict=False):
            try:
                bound.append(msgspec.convert(value, parameter.type))
            except msgspec.ValidationError as err:
                raise BadArguments(
                    f"Argument '{parameter.name}' of '{self.name}' is invalid: {err}"
                ) from None
        return bound
