"""Hypothesis strategies for hostile values: what a model, a client or a caller may
hand to otel_ml that no one planned for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


class Unprintable:
    """An object whose ``str``, ``repr``, ``len`` and iteration all raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__

    def __len__(self) -> int:
        raise RuntimeError("no len for you")

    def __iter__(self) -> Any:
        raise RuntimeError("no iteration for you")


def nested(depth: int) -> list[Any]:
    """``[[[...[1]...]]]``, ``depth`` levels deep."""
    value: list[Any] = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


huge_strings = st.integers(min_value=100_000, max_value=1_000_000).map(lambda n: "ß" * n)
text = st.text(max_size=20) | st.sampled_from(["", "\x00", "a\udcffb", "__other__", "é" * 3])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers() | st.sampled_from([2**63, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    text,
    st.binary(max_size=20) | st.just(b"\xff\xfe\xfa"),
    st.builds(object),
    st.builds(Unprintable),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(text, children, max_size=3),
        st.frozensets(st.integers() | text, max_size=3),
    ),
    max_leaves=12,
)
arrays = hnp.arrays(
    dtype=st.one_of(
        hnp.floating_dtypes(),
        hnp.integer_dtypes(),
        hnp.boolean_dtypes(),
        hnp.complex_number_dtypes(),
        hnp.unicode_string_dtypes(max_len=5),
        hnp.byte_string_dtypes(max_len=5),
        hnp.datetime64_dtypes(),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
object_arrays = st.lists(values, max_size=5).map(lambda items: np.array([*items, None], object))
probabilities = hnp.arrays(
    np.float64,
    shape=st.tuples(st.integers(0, 5), st.integers(0, 4)),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)
frames = st.sampled_from([
    lambda: pd.DataFrame({"amount": pd.array([1, None], dtype="Int64"),
                          "age": pd.Categorical(["a", "b"]),
                          "country": pd.array([True, None], dtype="boolean")}),
    lambda: pd.DataFrame({"amount": pd.to_datetime(["2020-01-01", "2021-06-01"]),
                          "age": [1j, 2j], "country": [[1], {}]}),
    lambda: pd.DataFrame({"amount": ["1.5", "x"], "age": [np.inf, -np.inf],
                          "country": pd.array(["DE", pd.NA], dtype="string")}),
    lambda: pd.DataFrame({"unrelated": [1, 2, 3]}),
    lambda: pd.DataFrame({"amount": [], "age": [], "country": []}),
    lambda: pd.DataFrame({"amount": pd.Series([1.0, 2.0], dtype="float32"),
                          "age": pd.Series([1, 2], dtype="uint8"), "country": [b"\xff", None],
                          "extra": [object(), None]}),
    lambda: pd.Series([1.0, np.nan, 3.0]),
    lambda: pd.DataFrame(np.zeros((2, 3)), columns=pd.MultiIndex.from_tuples(
        [("a", "amount"), ("a", "age"), ("b", "country")])),
]).map(lambda build: build())  # fmt: skip
deep = st.sampled_from([40, 70, 300]).map(nested)  # deeper: see the deep-nesting tests
anything = st.one_of(values, arrays, object_arrays, probabilities, frames, deep, huge_strings)
"""Any hostile value: what a model returns or a caller passes."""

feature_rows = st.one_of(
    st.fixed_dictionaries({}, optional={"amount": values, "age": values, "country": values}),
    st.lists(st.lists(values, min_size=0, max_size=5), max_size=4),
    st.lists(st.fixed_dictionaries({"amount": scalars, "age": scalars, "country": values}),
             max_size=4),
    hnp.arrays(np.float64, shape=st.tuples(st.integers(0, 4), st.integers(0, 5)),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    st.dictionaries(st.sampled_from(["amount", "age", "country"]),
                    st.lists(scalars, max_size=3), max_size=3),
    arrays,
    frames,
    scalars,
)  # fmt: skip
"""Hostile model inputs for a profile with features ``amount``, ``age`` (numeric)
and ``country`` (categorical)."""
