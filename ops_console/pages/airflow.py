"""Airflow: DAGs and their recent runs through Airflow's REST API, with trigger buttons."""

import pandas as pd
import streamlit as st

from ops_console import data

operator = data.require_operator()
st.title("Airflow")
data.show_flash()

dags, runs, error = data.airflow_state()
if error == "not configured":
    st.info(
        "Airflow is not configured. Set `AIRFLOW_API_URL` (the API server, e.g."
        " http://airflow-api-server:8080) and `AIRFLOW_API_TOKEN`, or `AIRFLOW_API_USER` and"
        " `AIRFLOW_API_PASSWORD`, then restart the console."
    )
    st.stop()
if error:
    st.error(f"Airflow: {error}")
    st.stop()


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    dags_now, runs_now, err = data.airflow_state()
    if err:
        st.error(f"Airflow: {err}")
        return
    last = {}
    for r in runs_now:
        last.setdefault(r.dag_id, r)
    st.subheader("DAGs")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "dag": d.dag_id,
                    "paused": d.is_paused,
                    "tags": ", ".join(d.tags),
                    "last run": last[d.dag_id].state if d.dag_id in last else "—",
                    "next run": d.next_run or "—",
                }
                for d in dags_now
            ]
        ),
        hide_index=True,
    )
    st.subheader("Recent runs")
    if runs_now:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "dag": r.dag_id,
                        "run": r.run_id,
                        "state": r.state,
                        "type": r.run_type,
                        "started": r.start_date,
                        "took": data.secs(r.duration_s),
                    }
                    for r in runs_now
                ]
            ),
            hide_index=True,
        )
    else:
        st.caption("no runs yet")
    data.updated_caption()


live()

st.subheader("Trigger a run")
if dags:
    dag_id = st.selectbox("DAG", [d.dag_id for d in dags], key="dag_pick")
    st.button(
        "Trigger now",
        key="trigger",
        disabled=not operator.can_act,
        on_click=data.act,
        args=(data.trigger_dag, dag_id),
    )
