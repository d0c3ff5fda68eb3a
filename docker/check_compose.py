"""Checks docker/compose.yml without a Docker engine: it must parse as YAML and
wire rafka to the Kafka service the way the README describes."""
import sys

import yaml

with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
services = doc.get("services") or {}
errors = []
for name in ("kafka", "rafka"):
    if name not in services:
        errors.append(f"missing service {name}")
rafka = services.get("rafka", {})
if "kafka" not in (rafka.get("depends_on") or []):
    errors.append("rafka must depend on kafka")
if (rafka.get("environment") or {}).get("RAFKA_BROKERS") != "kafka:9092":
    errors.append("rafka must point RAFKA_BROKERS at kafka:9092")
if (rafka.get("build") or {}).get("dockerfile") != "docker/Dockerfile":
    errors.append("rafka must build docker/Dockerfile")
if not any(str(a).startswith("--requirepass=") for a in rafka.get("command") or []):
    errors.append("rafka must require a password when listening on 0.0.0.0")
for key in ("KAFKA_ADVERTISED_LISTENERS", "KAFKA_PROCESS_ROLES"):
    if key not in (services.get("kafka", {}).get("environment") or {}):
        errors.append(f"kafka lacks {key}")
if errors:
    sys.exit("compose.yml: " + "; ".join(errors))
print("compose.yml: ok")
