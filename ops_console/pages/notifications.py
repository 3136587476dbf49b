"""Notifications: the outbox by tier, channel and status, and the rows that need a person,
with retry and cancel."""

import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.console import actions

operator = data.require_operator()
st.title("Notifications")
data.show_flash()


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    rows = data.notification_breakdown()
    st.subheader("Last 24 hours")
    if not rows:
        st.info("No notifications in the last 24 hours.")
    else:
        df = pd.DataFrame(rows)
        c = st.columns(3)
        for col, dim in zip(c, ("tier", "channel", "status"), strict=True):
            col.markdown(f"**By {dim}**")
            col.dataframe(df.groupby(dim)["n"].sum().rename("count").reset_index(), hide_index=True)
        pivot = df.pivot_table(
            index=["tier", "channel"], columns="status", values="n", aggfunc="sum", fill_value=0
        )
        st.dataframe(pivot)
    data.updated_caption()


live()

st.subheader("Needing attention")
attention = data.outbox_rows(("review", "dead", "failed"), limit=100)
if not attention:
    st.success("Nothing failed, dead-lettered or waiting for review.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": r.id,
                    "status": r.status,
                    "channel": r.channel,
                    "tier": r.tier,
                    "recipient": r.recipient,
                    "attempts": r.attempts,
                    "error": r.error,
                    "created": r.created_at,
                }
                for r in attention
            ]
        ),
        hide_index=True,
    )
    if not operator.can_act:
        st.info("Your account is read-only (viewer).")
    picked = st.selectbox(
        "Row",
        [r.id for r in attention],
        key="outbox_pick",
        format_func=lambda i: next(
            f"#{r.id} {r.status} · {r.channel} · {r.recipient}" for r in attention if r.id == i
        ),
    )
    row = next(r for r in attention if r.id == picked)
    allowed = actions.outbox_actions_for(row.status)
    c = st.columns(3)
    for col, name, label in zip(
        c, ("retry", "cancel", "mark_sent"), ("Retry now", "Cancel", "Mark as sent"), strict=True
    ):
        col.button(
            label,
            key=f"outbox-{name}",
            disabled=not operator.can_act or name not in allowed,
            on_click=data.act,
            args=(actions.outbox_action, picked, name),
        )
    st.caption(
        "Review rows may already have reached the recipient: check the provider's log"
        " before retrying; mark as sent when it did."
    )
