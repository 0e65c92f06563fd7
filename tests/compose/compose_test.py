#!/usr/bin/env python3
"""ctest compose.file: docker-compose.yml is valid, and what it asks of the
`ranker` image is what the binary accepts. No Docker engine is needed.

Usage: compose_test.py RANKER_BIN SOURCE_DIR

1. `docker-compose config` (or `docker compose config`) validates and
   normalises the file; without RANKER_HTTP_ADMIN_TOKEN it must refuse.
2. Each service running `ranker serve` (image of the service built from the
   Dockerfile): its RANKER_* environment and its flags go to
   `ranker config --check` in an otherwise empty environment, which loads
   them as `serve` would and fails on an unknown key or a bad value.
3. The check is shown to fail on a misspelt variable, a bad value and a
   misspelt flag derived from the file's own settings.
4. Each service running `ranker simulate --brokers`: its command runs for
   real, bounded by --events, against `ranker broker` (in-memory Kafka); and
   `simulate --start-ms` (`now` in the file) sets the first event's ts_ms.
5. deploy/prometheus.yml passes `promtool check config` when promtool exists.
"""
import os
import shlex
import shutil
import json
import subprocess
import sys
import time

import yaml

TOKEN = "compose-test-token"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    fail("neither docker-compose nor `docker compose` is installed: run scripts/install-deps.sh "
         "(Debian package docker-compose)")


def compose_config(source_dir, with_token):
    env = {k: v for k, v in os.environ.items() if k != "RANKER_HTTP_ADMIN_TOKEN"}
    if with_token:
        env["RANKER_HTTP_ADMIN_TOKEN"] = TOKEN
    return subprocess.run(compose_command() + ["-f", "docker-compose.yml", "config"],
                          cwd=source_dir, env=env, capture_output=True, text=True)


def as_list(command):
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def ranker_services(config):
    """(name, service) of the services that run the image the Dockerfile builds."""
    images = {s.get("image") for s in config["services"].values() if "build" in s}
    if not images or None in images:
        fail("no service builds the ranker image with an `image:` tag")
    return [(n, s) for n, s in config["services"].items() if s.get("image") in images]


def check(ranker, environment, args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update({k: str(v) for k, v in environment.items()})
    return subprocess.run([ranker, "config", "--check"] + args, env=env,
                          capture_output=True, text=True)


def check_serve(ranker, name, service):
    command = as_list(service.get("command", []))
    environment = service.get("environment", {}) or {}
    ranker_env = {k: v for k, v in environment.items() if k.startswith("RANKER_")}
    args = command[1:]
    result = check(ranker, ranker_env, args)
    if result.returncode != 0:
        fail(f"service {name}: `ranker config --check {' '.join(args)}` with "
             f"{sorted(ranker_env)} refused:\n{result.stderr}")
    print(f"service {name}: {len(ranker_env)} RANKER_* settings and {args} accepted")

    if not ranker_env:
        fail(f"service {name}: no RANKER_* settings to check")
    key = sorted(ranker_env)[0]
    misspelt = dict(ranker_env)
    misspelt[key[:-1] + "X"] = misspelt.pop(key)
    result = check(ranker, misspelt, args)
    if result.returncode == 0 or key[:-1] + "X" not in result.stderr:
        fail(f"a misspelt {key[:-1]}X passed `ranker config --check`: {result.stderr}")
    bad_value = dict(ranker_env, RANKER_HTTP_PORT="80800")
    result = check(ranker, bad_value, args)
    if result.returncode == 0 or "http.port" not in result.stderr:
        fail(f"RANKER_HTTP_PORT=80800 passed `ranker config --check`: {result.stderr}")
    result = check(ranker, ranker_env, args + ["--data-dri", "/x"])
    if result.returncode == 0 or "data-dri" not in result.stderr:
        fail(f"the flag --data-dri passed `ranker config --check`: {result.stderr}")


def run_simulator(ranker, name, service):
    command = as_list(service["command"])
    i = command.index("--brokers")
    broker = subprocess.Popen([ranker, "broker", "--partitions", "2", "--topic",
                               command[command.index("--topic") + 1]],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = broker.stdout.readline().strip()
        if not address:
            fail("`ranker broker` printed no address")
        args = command[:i + 1] + [address] + command[i + 2:] + ["--events", "300"]
        result = subprocess.run([ranker] + args, capture_output=True, text=True, timeout=120)
        if result.returncode != 0 or "300 delivered" not in result.stderr:
            fail(f"service {name}: `ranker {' '.join(args)}` failed:\n{result.stderr}")
        print(f"service {name}: `ranker {' '.join(args)}` delivered 300 events")
    finally:
        broker.terminate()
        broker.wait(timeout=30)


def first_ts_ms(ranker, start):
    out = subprocess.run([ranker, "simulate", "--events", "1", "--start-ms", start],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[0])["ts_ms"]


def check_start_ms(ranker):
    """The simulator's --start-ms now (the compose file's) puts event time at the wall clock."""
    fixed = first_ts_ms(ranker, "5000000")
    if not 5000000 <= fixed < 5000000 + 60000:
        fail(f"--start-ms 5000000: first ts_ms {fixed}")
    before = int(time.time() * 1000)
    now = first_ts_ms(ranker, "now")
    if not before <= now < int(time.time() * 1000) + 60000:
        fail(f"--start-ms now: first ts_ms {now}, wall clock {before}")


def main():
    if len(sys.argv) != 3:
        fail("usage: compose_test.py RANKER_BIN SOURCE_DIR")
    ranker, source_dir = sys.argv[1], sys.argv[2]

    result = compose_config(source_dir, with_token=True)
    if result.returncode != 0:
        fail("docker-compose.yml does not validate:\n" + result.stderr)
    config = yaml.safe_load(result.stdout)
    if compose_config(source_dir, with_token=False).returncode == 0:
        fail("docker-compose.yml starts without RANKER_HTTP_ADMIN_TOKEN (admin endpoints open)")

    kinds = {"serve": 0, "simulate": 0}
    for name, service in ranker_services(config):
        command = as_list(service.get("command", []))
        if command[:1] == ["serve"]:
            check_serve(ranker, name, service)
            kinds["serve"] += 1
        elif command[:1] == ["simulate"] and "--brokers" in command:
            run_simulator(ranker, name, service)
            kinds["simulate"] += 1
    check_start_ms(ranker)
    if kinds["serve"] == 0 or kinds["simulate"] == 0:
        fail(f"expected a `ranker serve` and a `ranker simulate --brokers` service, found {kinds}")

    promtool = shutil.which("promtool")
    if promtool:
        result = subprocess.run([promtool, "check", "config",
                                 os.path.join(source_dir, "deploy", "prometheus.yml")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            fail("deploy/prometheus.yml: " + result.stdout + result.stderr)
    print("PASS")


if __name__ == "__main__":
    main()
