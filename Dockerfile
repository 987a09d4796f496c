# Tandem's production image: one image for web, worker and beat.
FROM python:3.11.7-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
# EXTRAS=s3 adds django-storages for attachments in an S3-compatible bucket; EXTRAS=ldap
# (or s3,ldap) adds django-auth-ldap, whose python-ldap builds against libldap and libsasl:
# the compiler and headers are installed for that build and removed after it.
ARG EXTRAS=""
RUN set -eux; \
    case ",${EXTRAS}," in *,ldap,*) \
        apt-get update; \
        apt-get install -y --no-install-recommends gcc libc6-dev libldap2-dev libsasl2-dev \
            libldap-2.5-0 libsasl2-2; \
        ;; esac; \
    pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" && pip uninstall -y tandem; \
    case ",${EXTRAS}," in *,ldap,*) \
        apt-mark manual libldap-2.5-0 libsasl2-2; \
        apt-get purge -y --auto-remove gcc libc6-dev libldap2-dev libsasl2-dev; \
        rm -rf /var/lib/apt/lists/*; \
        ;; esac
COPY . .
RUN TANDEM_ENV=production SECRET_KEY=build-only DEBUG=false \
    python manage.py collectstatic --noinput -v0
# var/attachments: the private folder of attachments (a volume in docker-compose.yml).
RUN useradd --system --home /app tandem && mkdir -p /app/var/attachments && chown -R tandem /app
USER tandem
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
