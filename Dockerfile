FROM python:3.11-slim-bookworm

# GeoDjango needs GDAL, GEOS and PROJ; procps gives the beat health check pgrep.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gdal-bin libgeos-c1v5 libproj25 procps \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=trackersite.settings.production

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY trackersite ./trackersite
COPY tracking ./tracking
COPY fleet ./fleet
COPY findmy ./findmy
COPY geofencing ./geofencing
RUN pip install --no-cache-dir -c requirements.lock .
COPY . .
# Placeholders: collectstatic needs settings, not secrets (the key only has to be well formed).
RUN SECRET_KEY=collectstatic SECRETS_ENCRYPTION_KEY=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXJlYWwtayE= \
    DATABASE_URL=postgis://x@localhost/x REDIS_URL=redis://localhost ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput

RUN useradd --system --home /app trackers && mkdir -p /app/var/media && chown -R trackers /app
USER trackers
EXPOSE 8000
CMD ["gunicorn", "trackersite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
