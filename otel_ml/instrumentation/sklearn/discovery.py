"""Finding the scikit-learn methods to patch: classes and their own ``__dict__`` entries."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

try:
    from sklearn.utils.discovery import all_estimators
except ImportError:  # scikit-learn 1.2 keeps it in sklearn.utils
    from sklearn.utils import all_estimators

from otel_ml.inference.call import INSTRUMENTED_METHODS
from otel_ml.instrumentation._patching import Target

"""``(class, method name, the class's own __dict__ entry)``."""


def estimator_classes() -> set[type]:
    """Every scikit-learn estimator class.

    ``all_estimators()`` imports the public modules and lists the public
    classes; walking ``BaseEstimator.__subclasses__()`` afterwards adds the
    private bases (``BaseForest``, ``_BaseStacking``, ...) that define methods
    the public classes inherit.
    """
    found: set[type] = {cls for _, cls in all_estimators()}
    found.add(Pipeline)
    pending: list[type] = [BaseEstimator]
    while pending:
        subclasses: list[type] = pending.pop().__subclasses__()
        for sub in subclasses:
            if sub not in found and _is_sklearn(sub):
                found.add(sub)
                pending.append(sub)
    return found


TRAINING_METHODS = ("fit", "partial_fit", "fit_predict", "fit_transform", "score")
"""Methods whose inner predictions are not served traffic (the hooks stay quiet)."""


def patch_targets(
    classes: Iterable[type], skip: type | None = None, names: Iterable[str] = INSTRUMENTED_METHODS
) -> list[Target]:
    """The methods called ``names`` defined by ``classes`` or their scikit-learn bases.

    Mixins count too: ``LogisticRegression.predict`` lives on
    ``LinearClassifierMixin``, which is no estimator. Entries that are already
    instances of ``skip`` (our own wrapper) are left out.
    """
    names = tuple(names)
    targets: dict[tuple[type, str], Any] = {}
    for cls in classes:
        for owner in cls.__mro__:
            if not _is_sklearn(owner):
                continue
            for name in names:
                attr = vars(owner).get(name)
                if _patchable(attr) and not (skip is not None and isinstance(attr, skip)):
                    targets[(owner, name)] = attr
    return [(owner, name, attr) for (owner, name), attr in targets.items()]


def quiet_targets(classes: Iterable[type], skip: type | None = None) -> list[Target]:
    """Training and scoring methods, plus the scorers that model selection
    (``cross_val_score``, ``GridSearchCV``) calls ``predict`` through."""
    targets = patch_targets(classes, skip, TRAINING_METHODS)
    try:
        from sklearn.metrics._scorer import _BaseScorer
    except ImportError:  # a private module: without it, scorers' predictions are traced
        return targets
    call = vars(_BaseScorer).get("__call__")
    if inspect.isfunction(call) and not (skip is not None and isinstance(call, skip)):
        targets.append((_BaseScorer, "__call__", call))
    return targets


def _is_sklearn(cls: type) -> bool:
    return cls.__module__ == "sklearn" or cls.__module__.startswith("sklearn.")


def _patchable(attr: Any) -> bool:
    """A plain function, or a method descriptor such as ``available_if``'s.

    ``available_if`` descriptors raise ``AttributeError`` for estimators that
    lack the method; the wrapper calls their ``__get__``, so ``hasattr`` keeps
    its answer.
    """
    if inspect.isfunction(attr):
        return True
    return inspect.ismethoddescriptor(attr) and not isinstance(attr, staticmethod | classmethod)
