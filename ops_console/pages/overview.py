"""Overview: crawl health, throughput, the anomaly → glitch → notification funnel, latency,
alerts firing and workers."""

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.console import alerts

data.require_operator()
st.title("Overview")


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    ov = data.overview()
    firing = alerts.firing(ov, data.retailers(), datetime.now(UTC))
    c = st.columns(6)
    c[0].metric(
        "Crawl success (1 h)",
        data.pct(ov.crawl.success_rate),
        help=f"{ov.crawl.finished} finished, {ov.crawl.failed} failed, {ov.crawl.running} running",
    )
    c[1].metric(
        "Block rate (1 h)",
        data.pct(ov.crawl.block_rate),
        help=f"{ov.crawl.blocked} of {ov.crawl.pages} pages blocked",
    )
    c[2].metric("Items / min", f"{ov.items_per_minute:.1f}", help="prices stored, last 15 min")
    c[3].metric(
        "Latency p50",
        data.secs(ov.latency.p50_s),
        help=f"price observed → first alert delivered; {ov.latency.samples} glitches, 24 h",
    )
    c[4].metric("Latency p99", data.secs(ov.latency.p99_s))
    c[5].metric("Alerts firing", len(firing))

    st.subheader("Alerts")
    if not firing:
        st.success("No alerts firing.")
    for a in firing:
        (st.error if a.severity == "critical" else st.warning)(f"**{a.name}** — {a.message}")

    left, right = st.columns(2)
    with left:
        st.subheader("Funnel (24 h)")
        f = ov.funnel
        funnel = pd.DataFrame(
            {
                "stage": ["anomalies", "confirmed", "glitches", "notifications", "sent"],
                "count": [f.anomalies, f.confirmed, f.glitches, f.notifications, f.sent],
            }
        )
        chart = (
            alt.Chart(funnel)
            .mark_bar()
            .encode(
                x=alt.X("count:Q", title=None),
                y=alt.Y("stage:N", sort=None, title=None),
                tooltip=["stage", "count"],
            )
            .properties(height=180)
        )
        st.altair_chart(chart)
        st.caption(
            f"{f.rejected} rejected by validation · {f.pending} awaiting validation"
            f" (oldest {data.secs(ov.oldest_new_anomaly_s)})"
        )
    with right:
        st.subheader("Outbox")
        o = ov.outbox
        oc = st.columns(4)
        oc[0].metric("Due now", o.due)
        oc[1].metric("Overdue", o.overdue)
        oc[2].metric("Dead letters", o.dead)
        oc[3].metric("Need review", o.review)
        st.caption(
            f"{o.scheduled} scheduled for delayed tiers · {o.failed} waiting to retry"
            f" · {o.stuck} stuck in sending"
        )
        st.subheader("Workers")
        if ov.workers:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"worker": w.worker, "role": w.role, "last beat": data.ago(w.beat_at)}
                        for w in ov.workers
                    ]
                ),
                hide_index=True,
            )
        else:
            st.info("No worker has reported a heartbeat yet.")
    data.updated_caption()


live()
