"""The registry of applied patches: wrap a provider's methods, and undo every wrap.

A :class:`Patcher` belongs to one provider. ``wrap(target, "Class.method", wrapper)`` replaces the
attribute with a ``wrapt.FunctionWrapper`` around the original and records what it did;
``unpatch_all()`` puts every original back through the wrapper's ``__wrapped__``. What is patched
lives here, in tracepond, never as markers set on third-party objects.

Every wrapper is installed with an ``enabled`` switch owned by its Patcher. ``unpatch_all()`` turns
it off first, so a bound wrapper that somebody cached while autolog was on (the openai SDK keeps
bound methods in its ``with_raw_response`` objects) calls straight through afterwards, and a
wrapper that another library stacked on top of ours (so ours cannot be taken out of the class)
is inert.

The wrapper signature is wrapt's: ``wrapper(wrapped, instance, args, kwargs)``.

What a library lets us install through its own API instead (the Agents SDK's trace processors,
LangChain's configure hooks) is recorded with ``on_unpatch(label, undo)``: ``unpatch_all()``
calls ``undo`` with the patches, newest first, so disabling a provider removes that too.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import wrapt

logger = logging.getLogger("tracepond.autolog")

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_MISSING = object()


@dataclass
class AppliedPatch:
    """One attribute we replaced: where, with what, and what was there before."""

    owner: Any
    attribute: str
    wrapper: wrapt.FunctionWrapper[Any, Any]
    created: bool  # the attribute was inherited (not in owner.__dict__) before we patched
    label: str  # "openai.resources.embeddings:Embeddings.create", for logs


class Patcher:
    """Applies and removes the patches of one provider."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._applied: list[AppliedPatch] = []
        self._undos: list[tuple[str, Callable[[], None]]] = []
        self._enabled = True

    # The FunctionWrapper asks this on every call; False makes it call the original directly.
    def _is_enabled(self) -> bool:
        return self._enabled

    @property
    def patched(self) -> list[str]:
        """Labels of what is currently patched, in the order it was patched."""
        return [patch.label for patch in self._applied] + [label for label, _ in self._undos]

    def on_unpatch(self, label: str, undo: Callable[[], None]) -> None:
        """Have ``unpatch_all()`` call ``undo()``: for a hook installed through the library's own
        registration API (``label`` names it in logs and :attr:`patched`)."""
        self._undos.append((label, undo))

    def wrap(
        self,
        target: ModuleType | str | type,
        path: str,
        wrapper: Wrapper,
        *,
        optional: bool = False,
    ) -> bool:
        """Wrap ``target.path`` (``"Class.method"``) with ``wrapper``; True when it was patched.

        ``optional=True`` skips, with a debug log, a method this version of the library does not
        have (the Responses API in an older openai), instead of raising AttributeError.
        """
        module = importlib.import_module(target) if isinstance(target, str) else target
        owner, attribute = _resolve_owner(module, path)
        original = (
            inspect.getattr_static(owner, attribute, _MISSING) if owner is not None else _MISSING
        )
        if isinstance(module, type):
            label = f"{module.__module__}:{module.__qualname__}.{path}"
        else:
            label = f"{getattr(module, '__name__', module)}:{path}"
        if original is _MISSING:
            if optional:
                logger.debug("tracepond: %s not found, not patched", label)
                return False
            raise AttributeError(f"cannot patch {label}: no such attribute")
        if any(p.owner is owner and p.attribute == attribute for p in self._applied):
            return False  # already ours
        created = attribute not in vars(owner)
        function_wrapper = wrapt.FunctionWrapper(
            cast(Any, original), wrapper, enabled=self._is_enabled
        )
        setattr(owner, attribute, function_wrapper)
        self._applied.append(AppliedPatch(owner, attribute, function_wrapper, created, label))
        return True

    def unpatch_all(self) -> list[str]:
        """Remove every patch this Patcher applied (newest first); returns their labels."""
        self._enabled = False
        removed: list[str] = []
        while self._undos:
            label, undo = self._undos.pop()
            undo()
            removed.append(label)
        while self._applied:
            patch = self._applied.pop()
            current = vars(patch.owner).get(patch.attribute, _MISSING)
            if current is patch.wrapper:
                if patch.created:
                    delattr(patch.owner, patch.attribute)
                else:
                    setattr(patch.owner, patch.attribute, patch.wrapper.__wrapped__)
            else:
                # Someone wrapped over ours; taking ours out would drop theirs. The enabled switch
                # (now off) makes ours a plain pass-through instead.
                logger.debug(
                    "tracepond: %s was re-wrapped by another library; left inert", patch.label
                )
            removed.append(patch.label)
        removed.reverse()
        return removed


def _resolve_owner(module: Any, path: str) -> tuple[Any, str]:
    """``"Class.method"`` -> (Class, "method"); (None, name) when a step of the path is absent."""
    *parents, attribute = path.split(".")
    owner = module
    for name in parents:
        owner = getattr(owner, name, None)
        if owner is None:
            return None, attribute
    return owner, attribute
