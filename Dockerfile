# One image for every Tirek service and for the one-shot bootstrap job:
#   python -m <intake|referral|notification|reporting|admin> serve     (or: migrate)
#   python deploy/bootstrap.py [--replicas 3]                          (databases, migrations, streams)
# Build from the repository root: docker build -t tirek .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/tirek \
    PATH=/opt/tirek/bin:$PATH \
    TIREK_ENV=production \
    TIREK_HTTP_HOST=0.0.0.0

# A fixed non-root uid/gid, so that Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 tirek \
 && useradd --system --uid 10001 --gid tirek --no-create-home --home-dir /app \
      --shell /usr/sbin/nologin tirek

WORKDIR /app
COPY constraints.txt ./
COPY shared/ shared/
COPY services/ services/
COPY deploy/bootstrap.py deploy/bootstrap.py

# Editable installs keep each service's migrations/ beside its package, where `migrate` looks
# for them. Versions come from constraints.txt, the same pins as development and CI.
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install -c constraints.txt -e ./shared \
      $(for p in services/*/pyproject.toml; do printf -- '-e ./%s ' "$(dirname "$p")"; done) \
 && python -c "import tirek" \
 && mkdir -p /app/.tirek && chown tirek:tirek /app/.tirek

USER 10001:10001
EXPOSE 8001 8002 8003 8004 8005

# Probes the service's own readiness endpoint; compose and Kubernetes set their own as well.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('TIREK_HTTP_PORT', '8000'), timeout=2)"

CMD ["python", "-c", "print('usage: python -m <intake|referral|notification|reporting|admin> serve|migrate, or python deploy/bootstrap.py')"]
