#!/bin/sh
# The image's entrypoint: the `orla` command, reading the container's config. A config mounted at
# /etc/orla/orla.yaml is used unless ORLA_CONFIG names another; with neither, the embedded default.
# `exec` makes node PID 1, so it receives docker's SIGTERM itself (`orla serve` drains on it).
set -e
if [ -z "${ORLA_CONFIG:-}" ] && [ -f /etc/orla/orla.yaml ]; then
  export ORLA_CONFIG=/etc/orla/orla.yaml
fi
exec node /app/bin/orla.js "$@"
