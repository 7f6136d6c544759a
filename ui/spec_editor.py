"""An editor for any medlib spec (preprocessing or augmentation), with widgets made from its parameter declarations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from medlib.errors import MedlibError
from medlib.spec import Param, Spec, StepKind


def _items_key(key: str) -> str:
    return f"{key}.items"


def set_steps(key: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """Replace the edited steps (after a load, reset or revert); widgets start again from the new values."""
    counter = st.session_state.get(f"{key}.next_uid", 0)
    st.session_state[_items_key(key)] = [
        {"uid": counter + i, "step": name, "params": dict(params)} for i, (name, params) in enumerate(steps)
    ]
    st.session_state[f"{key}.next_uid"] = counter + len(steps)


def _move(key: str, index: int, offset: int) -> None:
    items = st.session_state[_items_key(key)]
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]


def _remove(key: str, index: int) -> None:
    del st.session_state[_items_key(key)][index]


def _add(key: str, registry: Mapping[str, StepKind]) -> None:
    name = st.session_state[f"{key}.add_choice"]
    uid = st.session_state[f"{key}.next_uid"]
    st.session_state[f"{key}.next_uid"] = uid + 1
    st.session_state[_items_key(key)].append({"uid": uid, "step": name, "params": registry[name].defaults()})


def param_widget(param: Param, value: Any, key: str, where: Any = st) -> Any:
    """The widget of one declared parameter (in ``where``, a column or container), returning its value."""
    label, help_text = param.title, param.help or None
    if param.kind == "choice":
        return where.selectbox(label, param.choices, index=param.choices.index(value), key=key, help=help_text)
    if param.kind == "bool":
        return where.checkbox(label, value=bool(value), key=key, help=help_text)
    if param.kind == "int":
        return where.number_input(label, int(param.low), int(param.high), int(value), step=1, key=key, help=help_text)
    if param.log:
        return where.number_input(label, float(param.low), float(param.high), float(value), step=param.step,
                                  format="%.0e", key=key, help=help_text)
    if param.low is not None and param.high is not None and param.high - param.low <= 1000:
        step = param.step or (param.high - param.low) / 100
        return where.slider(label, float(param.low), float(param.high), float(value), step=step, key=key,
                            help=help_text)
    return where.number_input(label, float(param.low), float(param.high), float(value), step=param.step, key=key,
                              help=help_text)


def edit_spec(
    key: str,
    registry: Mapping[str, StepKind],
    initial: list[tuple[str, dict[str, Any]]],
    make: Callable[[list[tuple[str, dict[str, Any]]]], Spec],
) -> Spec | None:
    """Show the steps with their widgets, move/remove buttons and an add box; return the edited spec.

    ``make`` builds the spec from the steps (``Pipeline`` or ``Augmenter``); where it refuses them, the
    error is shown and ``None`` returned.
    """
    source = [[name, dict(params)] for name, params in initial]
    if _items_key(key) not in st.session_state or st.session_state.get(f"{key}.source") != source:
        set_steps(key, initial)  # first time, or the active spec changed elsewhere (a new data set, another page)
        st.session_state[f"{key}.source"] = source
    items = st.session_state[_items_key(key)]
    for index, item in enumerate(items):
        kind = registry[item["step"]]
        with st.container(border=True):
            with st.container(horizontal=True, vertical_alignment="center", wrap=False):
                st.markdown(f"**{index + 1}. {kind.title}**", help=kind.help or None, width="stretch")
                st.button("↑", key=f"{key}.{item['uid']}.up", on_click=_move, args=(key, index, -1),
                          disabled=index == 0, help="move up")
                st.button("↓", key=f"{key}.{item['uid']}.down", on_click=_move, args=(key, index, 1),
                          disabled=index == len(items) - 1, help="move down")
                st.button("✕", key=f"{key}.{item['uid']}.remove", on_click=_remove, args=(key, index),
                          help="remove this step")
            for param in kind.params:
                if param.shown_if and item["params"].get(param.shown_if[0]) not in param.shown_if[1]:
                    continue
                widget_key = f"{key}.{item['uid']}.{param.name}"
                item["params"][param.name] = param_widget(param, item["params"][param.name], widget_key)
    add, button = st.columns([2, 1], vertical_alignment="bottom")
    add.selectbox("Add a step", list(registry), format_func=lambda n: registry[n].title, key=f"{key}.add_choice")
    button.button("Add", key=f"{key}.add", on_click=_add, args=(key, registry), icon=":material/add:")
    try:
        return make([(i["step"], dict(i["params"])) for i in items])
    except MedlibError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def spec_actions(
    key: str, spec: Spec, active: Spec, make_active: Callable[[Spec], None], load: Callable[[bytes], Spec], what: str
) -> None:
    """Make active, revert, download and load buttons for an edited spec, with its diff to the active one."""
    changes = active.diff(spec)
    use, revert = st.columns(2)
    if use.button(f"Use for {what}", type="primary", key=f"{key}.use", disabled=not changes):
        make_active(spec)
        st.toast(f"Now active for {what}.")
        changes = []
    if revert.button("Revert to the active one", key=f"{key}.revert", disabled=not changes):
        set_steps(key, active.steps)
        st.rerun()
    st.caption("Not yet active. Changes: " + "; ".join(changes) if changes else f"This is the one active for {what}.")
    st.download_button(
        "Download JSON", spec.to_json(), f"{spec.family}.json", "application/json", key=f"{key}.download",
        icon=":material/download:",
    )
    uploaded = st.file_uploader("Load from JSON", type=["json"], key=f"{key}.load")
    if uploaded is not None and st.session_state.get(f"{key}.loaded_id") != uploaded.file_id:
        st.session_state[f"{key}.loaded_id"] = uploaded.file_id
        try:
            set_steps(key, load(uploaded.getvalue()).steps)
            st.rerun()
        except MedlibError as exc:
            st.error(f"{uploaded.name}: {exc}", icon=":material/error:")
