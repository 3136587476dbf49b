# syntax=docker/dockerfile:1
# Airflow image for the official apache-airflow chart (helm/airflow-values.yaml): Airflow 3
# with PriceHawk and its DAGs baked in, so every scheduler, worker and DAG processor runs the
# same code as the rest of the release.
#   docker build -f docker/airflow.Dockerfile -t ghcr.io/pricehawk/pricehawk-airflow:TAG .
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11
ARG AIRFLOW_VERSION
# the official image's airflow user
USER 50000
WORKDIR /opt/pricehawk
COPY --chown=airflow:0 pyproject.toml README.md docker/constraints.txt ./
COPY --chown=airflow:0 pricehawk ./pricehawk
COPY --chown=airflow:0 crawler ./crawler
COPY --chown=airflow:0 portal ./portal
COPY --chown=airflow:0 ops_console ./ops_console
COPY --chown=airflow:0 sandbox ./sandbox
COPY --chown=airflow:0 sql ./sql
COPY --chown=airflow:0 dags ./dags
# Airflow pinned in the same install, as its docs require, so our extras never move it; the
# rest pinned by constraints.txt. Crawls in `in_process` mode run here too (crawler extra).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir -c constraints.txt --config-settings editable_mode=compat \
      "apache-airflow==${AIRFLOW_VERSION}" -e ".[airflow,crawler]"
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/pricehawk/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PRICEHAWK_HOME=/opt/airflow/pricehawk
