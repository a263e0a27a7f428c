# Propale's image: Airflow 3 with the Slack, SMTP, Celery and PostgreSQL providers, Propale's
# package (templates included), DAGs and plugin, installed from the runtime lock (requirements.txt)
# alone: no stand-in, test or lint tool (tests/propale/test_packaging.py).
# Every service of docker-compose.yaml runs it; only the command differs.
FROM python:3.11-slim-bookworm

# WeasyPrint renders PDFs with Pango; fonts give the documents their glyphs: DejaVu for Latin,
# Greek, Cyrillic, Arabic and Hebrew (€, accents), Droid Sans Fallback for Chinese, Japanese and
# Korean, Noto Color Emoji for emoji, all of which HubSpot names may hold. curl runs the health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-droid-fallback \
        fonts-noto-color-emoji curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 50000 airflow
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/propale/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/propale/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PYTHONUNBUFFERED=1

WORKDIR /opt/propale
# The lock alone first, so that changing Propale's code does not reinstall Airflow.
COPY requirements.txt ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip install --system --no-cache -r requirements.txt

COPY pyproject.toml README.md ./
COPY propale ./propale
# The templates are package data: a regular install carries them, the source tree is not needed.
# The logs directory exists in the image so that the compose volume mounted there is airflow's.
RUN uv pip install --system --no-cache --no-deps . \
    && rm -rf propale build \
    && mkdir -p /opt/airflow/logs && chown -R airflow /opt/airflow
COPY include ./include
COPY dags ./dags
COPY plugins ./plugins
COPY deploy ./deploy

USER airflow
