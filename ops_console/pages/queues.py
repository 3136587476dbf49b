"""Queues: Redis queue depths per spider, the outbox's due and overdue rows, dead letters
and sends needing review."""

import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.console import queues

data.require_operator()
st.title("Queues")


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    st.subheader("Redis")
    depths, error = data.queue_depths()
    if depths is None:
        st.error(error)
    elif not depths:
        st.info("No queues in Redis right now (nothing waiting to be crawled).")
    else:
        spiders = queues.by_spider(depths)
        st.dataframe(
            pd.DataFrame([{"spider": s, **kinds} for s, kinds in spiders.items()]).fillna(0),
            hide_index=True,
        )
        with st.expander(f"All {len(depths)} keys"):
            st.dataframe(pd.DataFrame([q.__dict__ for q in depths]), hide_index=True)

    st.subheader("Outbox")
    o = data.overview().outbox
    c = st.columns(6)
    c[0].metric("Due now", o.due)
    c[1].metric("Overdue (> 5 min)", o.overdue)
    c[2].metric("Scheduled", o.scheduled)
    c[3].metric("Waiting to retry", o.failed)
    c[4].metric("Dead letters", o.dead)
    c[5].metric("Need review", o.review)

    for title, status in (("Dead letters", "dead"), ("Sends needing review", "review")):
        st.subheader(title)
        rows = data.outbox_rows((status,), limit=50)
        if not rows:
            st.caption("none")
            continue
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": r.id,
                        "channel": r.channel,
                        "tier": r.tier,
                        "recipient": r.recipient,
                        "attempts": r.attempts,
                        "error": r.error,
                        "due": r.due_at,
                    }
                    for r in rows
                ]
            ),
            hide_index=True,
        )
    st.caption("Retry or cancel these on the Notifications page.")
    data.updated_caption()


live()
