FROM python:3.11-slim
# Listens on all interfaces for the container's port mapping; the /sim simulator stays off (it is only served
# with BOT_SIM=1 or `run --demo`, and then on 127.0.0.1). Set BOT_ALLOWED_HOSTS to the name clients use.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BOT_HOST=0.0.0.0
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.lock
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
COPY config ./config
RUN useradd --create-home --uid 10001 bot && mkdir -p /app/var && chown bot:bot /app/var
USER bot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["python", "-m", "bot", "run"]
