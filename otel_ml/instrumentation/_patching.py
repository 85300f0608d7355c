"""What every otel_ml Instrumentor shares: the dependency check, the guard,
patching when the library is imported, exact undo.

A new library hook is a :class:`PatchingInstrumentor` subclass (its wiring
table and ``_patch``), a ``patch`` module with the wrappers, and pure
extraction functions; the wrappers drive the invocation lifecycle.

Hooks patch lazily: ``instrument()`` registers a post-import hook for the
library's module (:attr:`PatchingInstrumentor.patch_on_import`), so the
launcher never imports a library the application does not use, and a
library imported after start-up is patched when it arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_ml._internal import guard
from otel_ml.config import Settings, SettingsError, get_settings

Target = tuple[type, str, Any]
"""A patched class attribute: ``(owner, name, original __dict__ entry)``."""
Wrapped = Callable[..., Any]
"""The original method a wrapt wrapper is handed."""
Args = tuple[Any, ...]
Kwargs = dict[str, Any]

_logger = logging.getLogger("otel_ml")
ABSENT = object()
"""A :data:`Target`'s original when the class had no such attribute of its own:
restoring deletes the attribute."""


def library_usable(instruments: Collection[str], module: str) -> bool:
    """Whether the instrumented library is installed in a supported version.

    The launcher skips the per-instrumentor dependency check (the distribution
    declares ``instruments-any``), so each ``_instrument`` asks here. A missing
    library raises ModuleNotFoundError, which the launcher reads as "skip this
    one"; an unsupported version is logged and skipped (any other exception
    would abort the whole launch).
    """
    conflict = get_dependency_conflicts(instruments)
    if conflict is None:
        return True
    if not conflict.found:
        raise ModuleNotFoundError(f"{module} is not installed", name=module)
    _logger.warning("otel_ml: %s not instrumented: %s", module, conflict)
    return False


def replace_all(replacements: Iterable[tuple[type, str, Any, Any]]) -> list[Target]:
    """Set each ``(owner, name, original, replacement)``; what to restore.

    All or nothing: if one replacement fails, the ones made so far are undone.
    """
    done: list[Target] = []
    try:
        for owner, name, original, replacement in replacements:
            setattr(owner, name, replacement)
            done.append((owner, name, original))
    except BaseException:
        restore(done)
        raise
    return done


def restore(patched: Iterable[Target]) -> None:
    """Put the original ``__dict__`` entries back (the same objects), newest first."""
    for owner, name, original in reversed(list(patched)):
        if original is ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


class PatchingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """An instrumentor that patches a library's methods in place.

    Subclasses name the library (:attr:`library`, the distribution's module the
    launcher looks for), its supported versions (:attr:`instruments`) and the
    module whose import applies the patch (:attr:`patch_on_import`), and
    implement :meth:`_patch`. ``instrument()`` takes ``settings`` (a
    :class:`otel_ml.Settings`; default: the process's, from the environment)
    besides the subclass's own options; a failure while patching is reported
    under ``{library}.instrument`` and leaves the library as it was.
    """

    library: ClassVar[str]
    instruments: ClassVar[Collection[str]]
    patch_on_import: ClassVar[str | None] = None
    """The module whose import applies :meth:`_patch` (at once if it is imported
    already); ``None``: patch in ``instrument()`` itself."""
    _patched: list[Target] = []  # noqa: RUF012 - reassigned, never mutated
    _generation = 0
    """Bumped by every instrument() and uninstrument(): a post-import hook
    registered by an earlier instrument() does nothing."""
    _lock = threading.RLock()

    def instrumentation_dependencies(self) -> Collection[str]:
        """The library versions this instrumentation supports."""
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        if not library_usable(self.instruments, self.library):
            return
        settings = kwargs.get("settings") or self._settings()
        with self._lock:
            self._generation += 1
            generation = self._generation
        self._watch_other_imports(settings, kwargs)
        if self.patch_on_import is None:
            self._apply(generation, settings, kwargs)
            return

        def on_import(_: ModuleType) -> None:
            self._apply(generation, settings, kwargs)

        wrapt.register_post_import_hook(on_import, self.patch_on_import)

    def _settings(self) -> Settings:
        """The process's settings; a variable otel_ml cannot use is logged as an
        error naming it and left at its default: a typo never leaves a library
        untraced (``configure()`` and ``get_settings()`` still raise on it)."""
        try:
            return get_settings()
        except SettingsError:
            errors: list[SettingsError] = []
            settings = Settings.load(errors=errors)
            for error in errors:
                _logger.error("otel_ml: %s; %s instrumented with its default", error, self.library)
            return settings

    def _watch_other_imports(self, settings: Settings, options: dict[str, Any]) -> None:
        """Register patches of other modules with :meth:`when_imported`, whether or
        not :attr:`patch_on_import` is ever imported (default: none)."""

    def _apply(self, generation: int, settings: Settings, options: dict[str, Any]) -> None:
        with self._lock:
            if generation != self._generation:
                return  # uninstrumented (or instrumented anew) since this hook was set
            try:
                self.keep_patched(self._patch(settings, options))
            except Exception as exc:
                guard.report(f"{self.library}.instrument", exc)

    def when_imported(self, module: str, patch: Callable[[], list[Target]]) -> None:
        """Run ``patch`` when ``module`` is imported (at once if it is), unless this
        instrumentation has been undone by then."""
        generation = self._generation

        def on_import(_: ModuleType) -> None:
            with self._lock:
                if generation != self._generation:
                    return
                try:
                    self.keep_patched(patch())
                except Exception as exc:
                    guard.report(f"{self.library}.instrument", exc)

        wrapt.register_post_import_hook(on_import, module)

    def keep_patched(self, patched: Iterable[Target]) -> None:
        """Add to what ``uninstrument()`` restores: for patches made after
        :meth:`_patch` returned (classes defined later)."""
        with self._lock:
            self._patched = [*self._patched, *patched]

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            self._generation += 1
            restore(self._patched)
            self._patched = []

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        """Patch the library with ``options`` (the ``instrument()`` keywords); what to restore."""
        raise NotImplementedError
