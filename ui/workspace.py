"""This browser session's private workspace and the models it sees (see :mod:`medlib.store.workspace`)."""

from __future__ import annotations

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from medlib.limits import limit
from medlib.store.folders import shared_stores
from medlib.store.workspace import Shelf, Workspace, Workspaces
from ui import jobs, state

WORKSPACE_PARAM = "ws"


@st.cache_resource
def workspaces() -> Workspaces:
    """The server's workspaces (a temporary folder, removed when the server stops)."""
    return Workspaces()


def workspace() -> Workspace:
    """The session's workspace: kept in session state, found again after a reload by the token in the URL."""
    found = st.session_state.get(state.WORKSPACE)
    if found is None or found.removed:
        found = workspaces().find(st.query_params.get(WORKSPACE_PARAM)) or workspaces().create()
        st.session_state[state.WORKSPACE] = found
    found.touch(_session_id())
    return found


def _session_id() -> str | None:
    context = get_script_run_ctx()
    return None if context is None else context.session_id


def _sessions_ended(workspace: Workspace) -> bool:
    """Whether every browser session that used ``workspace`` has ended (its tab closed, its connection gone)."""
    if not runtime.exists():
        return False
    return not any(runtime.get_instance().is_active_session(session) for session in workspace.sessions)


def remember_in_url() -> None:
    """Put the workspace's token in the URL, so that a reload of the page finds the workspace again."""
    st.query_params[WORKSPACE_PARAM] = workspace().token


def shelf() -> Shelf:
    """The models this session sees: its own, then the shared ones (read-only)."""
    return Shelf(workspace().models, tuple(shared_stores()))


def sweep_idle() -> None:
    """Remove the workspaces idle past the limit or whose sessions have all ended (after a grace for a reload),
    unless a run of theirs waits or runs, and forget the ended runs of workspaces that are gone."""
    workspaces().sweep(limit("workspace_idle_minutes") * 60.0, busy=jobs.busy, ended=_sessions_ended)
    jobs.forget_ended(lambda token: workspaces().find(token) is not None)
