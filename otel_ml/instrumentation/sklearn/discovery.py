"""Finding the prediction methods of scikit-learn-API estimators, wherever defined.

An estimator is any subclass of scikit-learn's ``BaseEstimator``: scikit-learn's
own, xgboost's and lightgbm's scikit-learn classes, the user's. Classes that
exist when the hook is applied are found by walking ``__subclasses__()``;
classes defined later are reported by a ``__init_subclass__`` hook on
``BaseEstimator`` (:func:`watch_new_subclasses`). Nothing is imported to find
them: a module the application never imports costs nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from otel_ml.inference.call import INSTRUMENTED_METHODS
from otel_ml.instrumentation._patching import ABSENT, Target

TRAINING_METHODS = ("fit", "partial_fit", "fit_predict", "fit_transform", "score")
"""Methods whose inner predictions are not served traffic (the hooks stay quiet)."""


def subclasses_of(base: type) -> set[type]:
    """``base`` and every class that inherits from it, defined so far."""
    found: set[type] = {base}
    pending = [base]
    while pending:
        subclasses: list[type] = pending.pop().__subclasses__()
        for sub in subclasses:
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def patch_targets(
    classes: Iterable[type], skip: type | None = None, names: Iterable[str] = INSTRUMENTED_METHODS
) -> list[Target]:
    """The methods called ``names`` that ``classes`` or their bases define.

    Bases that are no estimator count too: ``LogisticRegression.predict`` lives
    on ``LinearClassifierMixin``. Entries that are already instances of
    ``skip`` (our own wrapper) are left out.
    """
    names = tuple(names)
    targets: dict[tuple[type, str], Any] = {}
    for cls in classes:
        for owner in cls.__mro__:
            if owner is object:
                continue
            for name in names:
                attr = vars(owner).get(name)
                if _patchable(attr) and not (skip is not None and isinstance(attr, skip)):
                    targets[(owner, name)] = attr
    return [(owner, name, attr) for (owner, name), attr in targets.items()]


def scorer_target(skip: type) -> list[Target]:
    """The scorers' ``__call__`` (model selection calls ``predict`` through it),
    when ``sklearn.metrics`` is imported; ``[]`` otherwise."""
    try:
        from sklearn.metrics._scorer import _BaseScorer
    except ImportError:  # a private module: without it, scorers' predictions are traced
        return []
    call = vars(_BaseScorer).get("__call__")
    if inspect.isfunction(call) and not isinstance(call, skip):
        return [(_BaseScorer, "__call__", call)]
    return []


def watch_new_subclasses(base: type[Any], on_new: Callable[[type], None]) -> list[Target]:
    """Call ``on_new(cls)`` for every subclass of ``base`` defined from now on;
    returns what undoes it."""
    original = vars(base).get("__init_subclass__", ABSENT)

    def __init_subclass__(cls: type[Any], /, **kwargs: Any) -> None:
        if original is ABSENT:
            super(base, cls).__init_subclass__(**kwargs)
        else:
            original.__get__(None, cls)(**kwargs)
        on_new(cls)

    setattr(base, "__init_subclass__", classmethod(__init_subclass__))  # noqa: B010
    return [(base, "__init_subclass__", original)]


def _patchable(attr: Any) -> bool:
    """A plain function, or a method descriptor such as ``available_if``'s.

    ``available_if`` descriptors raise ``AttributeError`` for estimators that
    lack the method; the wrapper calls their ``__get__``, so ``hasattr`` keeps
    its answer.
    """
    if inspect.isfunction(attr):
        return True
    return inspect.ismethoddescriptor(attr) and not isinstance(attr, staticmethod | classmethod)
