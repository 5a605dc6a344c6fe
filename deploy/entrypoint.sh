#!/bin/sh
# Secrets arrive as files (Docker secrets), never in the compose file or the image:
# DJANGO_SECRET_KEY_FILE and PGPASSWORD_FILE become DJANGO_SECRET_KEY and PGPASSWORD (libpq reads it).
# HC_DATA_KEYS_FILE is read by the settings themselves.
set -eu
for var in DJANGO_SECRET_KEY PGPASSWORD; do
    eval "file=\${${var}_FILE:-}"
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "entrypoint: ${var}_FILE=$file is not readable (see deploy/README.md)" >&2
            exit 1
        fi
        value=$(cat "$file")
        export "$var=$value"
        unset "${var}_FILE"
    fi
done
exec "$@"
