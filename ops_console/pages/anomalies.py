"""Anomalies & glitches: the newest anomalies with each product's price chart, detector
scores and validator reasoning; approve, reject or re-validate."""

import altair as alt
import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.console import actions
from pricehawk.console.queries import ANOMALY_STATUSES

operator = data.require_operator()
st.title("Anomalies & glitches")
data.show_flash()


@st.fragment(run_every=data.refresh_s())
def waiting() -> None:
    ov = data.overview()
    f = ov.funnel
    c = st.columns(4)
    c[0].metric(
        "Awaiting validation",
        f.pending,
        help=f"oldest waiting {data.secs(ov.oldest_new_anomaly_s)}",
    )
    c[1].metric("Confirmed (24 h)", f.confirmed)
    c[2].metric("Rejected (24 h)", f.rejected)
    c[3].metric("Glitches (24 h)", f.glitches)


waiting()

filters = st.columns([1, 1, 1, 3])
status = filters[0].selectbox("Status", ["all", *ANOMALY_STATUSES], key="anomaly_status")
retailer = filters[1].selectbox(
    "Retailer", ["all", *[r.slug for r in data.retailers()]], key="anomaly_retailer"
)
limit = filters[2].number_input(
    "Show", min_value=5, max_value=100, value=20, step=5, key="anomaly_limit"
)
feed = data.anomalies(
    None if status == "all" else status, None if retailer == "all" else retailer, int(limit)
)
if not feed:
    st.info("No anomalies match.")
if feed and not operator.can_act:
    st.info("Your account is read-only (viewer).")

# Markdown badges (no emoji: servers and headless browsers often lack an emoji font).
BADGE = {"new": "orange", "confirmed": "red", "rejected": "gray", "error": "violet"}

for a in feed:
    with st.container(border=True):
        head = st.columns([4, 1])
        head[0].markdown(
            f":{BADGE.get(a.status, 'gray')}-badge[{a.status}] **#{a.id} {a.title or a.url}**"
            f" · {a.retailer} · **{a.price:.2f} {a.currency}**"
            f" (usual {f'{a.baseline:.2f}' if a.baseline is not None else '—'})"
            f" · {a.glitch_type} · confidence {a.confidence:.2f}"
        )
        head[1].caption(f"observed {data.ago(a.observed_at)}")
        left, right = st.columns([3, 2])
        with left:
            points = data.history(a.product_id)
            if points:
                df = pd.DataFrame(
                    [{"observed": p.observed_at, "price": float(p.price)} for p in points]
                )
                line = (
                    alt.Chart(df)
                    .mark_line(point=True)
                    .encode(
                        x=alt.X("observed:T", title=None),
                        y=alt.Y("price:Q", title=a.currency),
                        tooltip=["observed:T", "price:Q"],
                    )
                )
                mark = (
                    alt.Chart(pd.DataFrame([{"observed": a.observed_at, "price": float(a.price)}]))
                    .mark_point(color="red", size=120, filled=True)
                    .encode(x="observed:T", y="price:Q")
                )
                st.altair_chart((line + mark).properties(height=180))
            else:
                st.caption("no price history")
        with right:
            if a.scores:
                st.dataframe(
                    pd.DataFrame([{"detector": k, "score": v} for k, v in a.scores.items()]),
                    hide_index=True,
                )
            if a.reasons:
                st.markdown("**Detector:** " + "; ".join(a.reasons))
            if a.reasoning:
                st.markdown(f"**Validator ({a.validator}):** {a.reasoning}")
            elif a.status == "rejected":
                st.markdown("**Validator:** rejected (no glitch recorded)")
            if a.glitch_id:
                st.caption(f"glitch #{a.glitch_id}: {a.glitch_status}")
            if a.operator_note:
                st.caption(f"last operator decision: {a.operator_note}")
        c = st.columns([2, 1, 1, 1])
        note_key = f"note-{a.id}"
        c[0].text_input(
            "Note", key=note_key, label_visibility="collapsed", placeholder="note for the audit log"
        )
        c[1].button(
            "Approve",
            key=f"approve-{a.id}",
            disabled=not operator.can_act,
            on_click=data.act,
            args=(actions.approve_anomaly, a.id),
            kwargs={"note_key": note_key},
        )
        c[2].button(
            "Reject",
            key=f"reject-{a.id}",
            disabled=not operator.can_act,
            on_click=data.act,
            args=(actions.reject_anomaly, a.id),
            kwargs={"note_key": note_key},
        )
        c[3].button(
            "Re-validate",
            key=f"revalidate-{a.id}",
            disabled=not operator.can_act,
            on_click=data.act,
            args=(actions.revalidate_anomaly, a.id),
            kwargs={"with_settings": True, "note_key": note_key},
        )
st.caption(
    "Reject withdraws a live glitch and cancels its unsent alerts."
    " Approve records a glitch by hand; the workers fan it out."
)
