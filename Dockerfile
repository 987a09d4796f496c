# Tandem's production image: one image for web, worker and beat.
FROM python:3.11.7-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir . && pip uninstall -y tandem
COPY . .
RUN TANDEM_ENV=production SECRET_KEY=build-only DEBUG=false \
    python manage.py collectstatic --noinput -v0
RUN useradd --system --home /app tandem && chown -R tandem /app
USER tandem
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
