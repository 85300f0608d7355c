"""Which scikit-learn methods get patched, checked against scikit-learn's own registry."""

from __future__ import annotations

import inspect

from sklearn.ensemble._forest import ForestClassifier
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.svm._base import BaseSVC
from sklearn.utils.discovery import all_estimators

from otel_ml.inference.call import INSTRUMENTED_METHODS
from otel_ml.instrumentation.sklearn import SklearnInstrumentor
from otel_ml.instrumentation.sklearn.discovery import estimator_classes, patch_targets
from otel_ml.instrumentation.sklearn.patch import PatchedMethod


def defining_entry(cls: type, name: str) -> object | None:
    """The ``__dict__`` entry that ``cls.name`` resolves to, or ``None``."""
    for owner in cls.__mro__:
        if name in vars(owner):
            return vars(owner)[name]
    return None


def test_targets_cover_mixins_private_bases_and_available_if():
    targets = {(owner, name): entry for owner, name, entry in patch_targets(estimator_classes())}

    assert inspect.isfunction(targets[(LinearClassifierMixin, "predict")])
    assert inspect.isfunction(targets[(ForestClassifier, "predict_proba")])
    assert not inspect.isfunction(targets[(Pipeline, "predict_proba")])  # available_if
    assert not inspect.isfunction(targets[(BaseSVC, "predict_proba")])
    assert {name for _, name in targets} == set(INSTRUMENTED_METHODS)
    assert all(owner.__module__.startswith("sklearn.") for owner, _ in targets)
    assert all(entry is vars(owner)[name] for (owner, name), entry in targets.items())


def test_every_public_estimator_method_is_patched_then_restored(instrument):
    public = [cls for _, cls in all_estimators()]
    methods = [
        (cls, name) for cls in public for name in INSTRUMENTED_METHODS if defining_entry(cls, name)
    ]
    before = {(cls, name): defining_entry(cls, name) for cls, name in methods}
    assert len({cls for cls, _ in methods}) > 100

    instrument()
    unpatched = [
        f"{cls.__name__}.{name}"
        for cls, name in methods
        if not isinstance(defining_entry(cls, name), PatchedMethod)
    ]
    SklearnInstrumentor().uninstrument()

    assert unpatched == []
    assert all(defining_entry(cls, name) is entry for (cls, name), entry in before.items())


def test_patched_entries_are_skipped_by_discovery(instrument):
    instrument()

    assert patch_targets(estimator_classes(), PatchedMethod) == []
