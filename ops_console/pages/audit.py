"""Audit log: who did what, when, with the state before and after (contact details masked)."""

import json

import pandas as pd
import streamlit as st

from ops_console import data

data.require_operator()
st.title("Audit log")

c = st.columns(4)
actor = c[0].text_input("Actor", key="audit_actor", placeholder="operator:alice")
action = c[1].text_input("Action starts with", key="audit_action", placeholder="retailer.")
target = c[2].text_input("Target", key="audit_target", placeholder="retailer:acme")
limit = c[3].number_input(
    "Rows", min_value=10, max_value=1000, value=200, step=50, key="audit_limit"
)


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    entries = data.audit(actor or None, action or None, target or None, int(limit))
    if not entries:
        st.info("No audit entries match.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "before": json.dumps(e.before, default=str) if e.before is not None else "",
                    "after": json.dumps(e.after, default=str) if e.after is not None else "",
                }
                for e in entries
            ]
        ),
        hide_index=True,
    )
    data.updated_caption()


live()
