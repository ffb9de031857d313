#!/usr/bin/env bash
# Fetch the pinned Apache Kafka broker (deploy/kafka/pom.xml) from Maven Central into
# .eventscope/kafka/<version>/lib, once; install a JRE from Debian when `java` is missing.
# Nothing else is downloaded from anywhere. Idempotent: a complete cache is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)
dest=.eventscope/kafka/$version
if [ -f "$dest/.complete" ]; then
  exit 0
fi
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Apache Kafka needs: ${missing[*]} (sudo apt-get install -y ${missing[*]})," \
      "or run the demo on Tansu: eventscope demo --kafka-broker tansu" >&2
    exit 1
  fi
  echo "installing Debian packages for Apache Kafka: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "fetching Apache Kafka $version from Maven Central into $dest"
rm -rf "$dest"
mkdir -p "$dest"
mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$PWD/$dest/lib"
touch "$dest/.complete"
