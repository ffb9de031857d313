#!/usr/bin/env bash
# Install what eventscope's demo and tests need from Debian, and enable RabbitMQ's plugins.
# Idempotent: does nothing when everything is there. Needs root for apt-get; otherwise it says
# exactly what to install.
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server)
command -v openssl >/dev/null || need+=(openssl)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v npm >/dev/null || need+=(npm)
command -v systemd-analyze >/dev/null || need+=(systemd)

if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "eventscope needs these Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The machine's RabbitMQ (127.0.0.1:5672): start it when it is not running, and make sure the
# management API (the collector reads it) and the Prometheus endpoint are enabled.
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "starting the local RabbitMQ server"
    rabbitmq-server -detached
    for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
  else
    echo "RabbitMQ is not running on 127.0.0.1:5672: start it with 'rabbitmq-server -detached'" >&2
    exit 1
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null; then
  echo "enabling RabbitMQ plugins: rabbitmq_management rabbitmq_prometheus"
  rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus >/dev/null
  for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null && break; sleep 1; done
fi
