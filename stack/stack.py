"""Fetch, start and stop the local OpenSearch and ElasticMQ servers.

Standard library only: it runs before the virtual environment exists.

    python3 stack/stack.py up      # fetch if needed, start, wait until healthy
    python3 stack/stack.py down    # stop exactly the processes `up` started
    python3 stack/stack.py status
    python3 stack/stack.py stop opensearch   # one service (drills); `start` too

Everything lives under STACK_DIR (default `.stack/`, git-ignored). Downloads go
through Maven, so they are cached in ~/.m2 and a second start needs no network.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

OPENSEARCH_VERSION = os.environ.get("STACK_OPENSEARCH_VERSION", "3.6.0")
ELASTICMQ_VERSION = os.environ.get("STACK_ELASTICMQ_VERSION", "1.7.1")
STACK_DIR = Path(os.environ.get("STACK_DIR", ROOT / ".stack")).resolve()
HOST = "127.0.0.1"
OS_PORT = int(os.environ.get("STACK_OPENSEARCH_PORT", "9200"))
OS_TRANSPORT_PORT = int(os.environ.get("STACK_OPENSEARCH_TRANSPORT_PORT", "9300"))
OS_HEAP = os.environ.get("STACK_OPENSEARCH_HEAP", "1g")
MQ_PORT = int(os.environ.get("STACK_ELASTICMQ_PORT", "9324"))
MQ_HEAP = os.environ.get("STACK_ELASTICMQ_HEAP", "256m")
QUEUE = os.environ.get("SQS_QUEUE_NAME", "survey")
VISIBILITY_TIMEOUT = int(os.environ.get("SQS_VISIBILITY_TIMEOUT", "120"))
MAX_RECEIVES = int(os.environ.get("SQS_MAX_RECEIVE_COUNT", "3"))
SERVICE_USER = "survey-stack"
START_TIMEOUT = 180
SPAWNED = {}

OS_ARTIFACT = (
    f"org.opensearch.distribution.integ-test-zip:opensearch:{OPENSEARCH_VERSION}:zip"
)


def say(message, *args):
    print("stack:", message % args, flush=True)


def mvn(*args):
    """Run Maven from its local cache alone when it can, else online."""
    command = ["mvn", "-q", "-B", *args]
    offline = subprocess.run(
        [*command[:3], "-o", *args], cwd=STACK_DIR, capture_output=True
    )
    if offline.returncode != 0:
        subprocess.run(command, check=True, cwd=STACK_DIR)


# ---------------------------------------------------------------- fetching


def fetch_opensearch():
    """Unpack the OpenSearch distribution, fetching it through Maven once."""
    home = STACK_DIR / f"opensearch-{OPENSEARCH_VERSION}"
    if (home / "bin" / "opensearch").exists():
        return home

    downloads = STACK_DIR / "downloads"
    archive = downloads / f"opensearch-{OPENSEARCH_VERSION}.zip"
    if not archive.exists():
        say(
            "fetching OpenSearch %s through Maven (~/.m2 cache first)",
            OPENSEARCH_VERSION,
        )
        mvn(
            "dependency:copy",
            f"-Dartifact={OS_ARTIFACT}",
            f"-DoutputDirectory={downloads}",
        )

    say("unpacking %s", archive.name)
    partial = STACK_DIR / "opensearch.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            extracted = Path(zipped.extract(info, partial))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                extracted.chmod(mode | 0o644)

    (partial / f"opensearch-{OPENSEARCH_VERSION}").rename(home)
    partial.rmdir()
    return home


ELASTICMQ_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.survey</groupId>
  <artifactId>elasticmq-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.elasticmq</groupId>
      <artifactId>elasticmq-server_2.13</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


def fetch_elasticmq():
    """Resolve the ElasticMQ server jar and its runtime dependencies."""
    home = STACK_DIR / f"elasticmq-{ELASTICMQ_VERSION}"
    if (home / "lib" / f"elasticmq-server_2.13-{ELASTICMQ_VERSION}.jar").exists():
        return home

    say("fetching ElasticMQ %s through Maven (~/.m2 cache first)", ELASTICMQ_VERSION)
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(ELASTICMQ_POM.format(version=ELASTICMQ_VERSION))
    mvn(
        "-f",
        str(home / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={home / 'lib'}",
    )
    return home


# ---------------------------------------------------------------- processes


def java_home(minimum):
    """A JDK folder whose major version is at least `minimum`."""
    configured = os.environ.get("OPENSEARCH_JAVA_HOME")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/lib/jvm").glob("*"), reverse=True)
    for candidate in candidates:
        release = candidate / "release"
        if not release.exists():
            continue
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                major = line.split("=", 1)[1].strip('"').split(".")[0]
                if major.isdigit() and int(major) >= minimum:
                    return candidate
    sys.exit(
        f"stack: OpenSearch {OPENSEARCH_VERSION} needs Java {minimum}+; "
        "set OPENSEARCH_JAVA_HOME"
    )


def service_user():
    """OpenSearch refuses to run as root: run it as a system user instead."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def chown_tree(path, user):
    for folder, _subfolders, files in os.walk(path):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(
                os.path.join(folder, name),
                user.pw_uid,
                user.pw_gid,
                follow_symlinks=False,
            )


def pid_file(name):
    return STACK_DIR / "run" / f"{name}.pid"


def running_pid(name):
    """The recorded PID of `name`, if that process is still the one we started."""
    try:
        record = json.loads(pid_file(name).read_text())
    except (FileNotFoundError, ValueError):
        return None

    try:
        cmdline = Path(f"/proc/{record['pid']}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    if record["marker"].encode() not in cmdline:
        return None
    return record["pid"]


def spawn(name, command, env, marker, user=None, cwd=None):
    with open(STACK_DIR / "logs" / f"{name}.out", "ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    pid_file(name).write_text(json.dumps({"pid": process.pid, "marker": marker}))
    SPAWNED[name] = process
    return process


def alive(name):
    """Whether the service is running. A process this run started is asked
    directly: until it has exec'd, its command line does not show the marker."""
    if name in SPAWNED:
        return SPAWNED[name].poll() is None
    return running_pid(name) is not None


def start_opensearch():
    if running_pid("opensearch"):
        say("OpenSearch already running")
        return
    require_free_port("OpenSearch", OS_PORT, "STACK_OPENSEARCH_PORT")
    require_free_port(
        "OpenSearch", OS_TRANSPORT_PORT, "STACK_OPENSEARCH_TRANSPORT_PORT"
    )
    home = fetch_opensearch()
    data = STACK_DIR / "data" / "opensearch"
    logs = STACK_DIR / "logs" / "opensearch"
    for folder in (data, logs):
        folder.mkdir(parents=True, exist_ok=True)

    user = service_user()
    if user:
        for folder in (home, data, logs):
            chown_tree(folder, user)
        STACK_DIR.chmod(0o755)

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENSEARCH_JAVA_HOME": str(java_home(21)),
        "OPENSEARCH_JAVA_OPTS": f"-Xms{OS_HEAP} -Xmx{OS_HEAP}",
        "HOME": str(STACK_DIR),
    }
    command = [
        str(home / "bin" / "opensearch"),
        "-Ediscovery.type=single-node",
        f"-Enetwork.host={HOST}",
        f"-Ehttp.port={OS_PORT}",
        f"-Etransport.port={OS_TRANSPORT_PORT}",
        f"-Epath.data={data}",
        f"-Epath.logs={logs}",
        "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        "-Eaction.auto_create_index=true",
    ]
    spawn("opensearch", command, env, marker=str(home), user=user, cwd=home)


ELASTICMQ_CONF = """include classpath("application.conf")

node-address {{ protocol = http, host = "{host}", port = {port}, context-path = "" }}
rest-sqs {{
  enabled = true
  bind-port = {port}
  bind-hostname = "{host}"
  sqs-limits = strict
}}
rest-stats {{ enabled = false }}

queues {{
  "{queue}-dlq" {{ }}
  "{queue}" {{
    defaultVisibilityTimeout = {visibility} seconds
    receiveMessageWait = 0 seconds
    deadLettersQueue {{ name = "{queue}-dlq", maxReceiveCount = {receives} }}
  }}
}}
"""


def start_elasticmq():
    if running_pid("elasticmq"):
        say("ElasticMQ already running")
        return
    require_free_port("ElasticMQ", MQ_PORT, "STACK_ELASTICMQ_PORT")
    home = fetch_elasticmq()
    conf = STACK_DIR / "elasticmq.conf"
    conf.write_text(
        ELASTICMQ_CONF.format(
            host=HOST,
            port=MQ_PORT,
            queue=QUEUE,
            visibility=VISIBILITY_TIMEOUT,
            receives=MAX_RECEIVES,
        )
    )
    java = java_home(17) / "bin" / "java"
    command = [
        str(java),
        f"-Xmx{MQ_HEAP}",
        f"-Dconfig.file={conf}",
        "-cp",
        str(home / "lib" / "*"),
        "org.elasticmq.server.Main",
    ]
    spawn("elasticmq", command, dict(os.environ), marker=str(conf))


# ---------------------------------------------------------------- health


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def opensearch_healthy():
    return http_ok(
        f"http://{HOST}:{OS_PORT}/_cluster/health?wait_for_status=yellow&timeout=1s"
    )


def elasticmq_healthy():
    return http_ok(f"http://{HOST}:{MQ_PORT}/?Action=GetQueueUrl&QueueName={QUEUE}")


def wait_healthy(started, names=("opensearch", "elasticmq")):
    checks = {"opensearch": opensearch_healthy, "elasticmq": elasticmq_healthy}
    pending = {name: checks[name] for name in names}
    while pending and time.monotonic() - started < START_TIMEOUT:
        for name, check in list(pending.items()):
            # Our own process first: a healthy answer from anything else on
            # the port must not count.
            if not alive(name):
                tail = (STACK_DIR / "logs" / f"{name}.out").read_text()[-2000:]
                sys.exit(f"stack: {name} exited during start-up:\n{tail}")
            if check():
                say("%s healthy after %.1f s", name, time.monotonic() - started)
                del pending[name]
        time.sleep(0.5)
    if pending:
        sys.exit(f"stack: not healthy after {START_TIMEOUT} s: {', '.join(pending)}")


# ---------------------------------------------------------------- commands


def prepare_folders():
    for folder in ("run", "logs", "downloads"):
        (STACK_DIR / folder).mkdir(parents=True, exist_ok=True)


def require_free_port(name, port, variable):
    """Stop before starting a service whose port another process holds."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((HOST, port)) == 0:
            sys.exit(
                f"stack: {HOST}:{port} is in use by another process, so {name} "
                f"cannot start there; choose another port with {variable}"
            )


def up():
    started = time.monotonic()
    prepare_folders()
    start_elasticmq()
    start_opensearch()
    wait_healthy(started)
    say(
        "ready in %.1f s: OpenSearch http://%s:%d, SQS http://%s:%d (queue %s)",
        time.monotonic() - started,
        HOST,
        OS_PORT,
        HOST,
        MQ_PORT,
        QUEUE,
    )


def stop(name):
    pid = running_pid(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return
    say("stopping %s (pid %d)", name, pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running_pid(name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running_pid(name):
        os.kill(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)


def down():
    for name in ("opensearch", "elasticmq"):
        stop(name)


def start_one(name):
    """Start one service of a running stack and wait until it is healthy."""
    started = time.monotonic()
    prepare_folders()
    {"opensearch": start_opensearch, "elasticmq": start_elasticmq}[name]()
    wait_healthy(started, [name])


def status():
    for name in ("opensearch", "elasticmq"):
        pid = running_pid(name)
        say("%s: %s", name, f"running (pid {pid})" if pid else "stopped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["up", "down", "status", "fetch", "start", "stop"]
    )
    parser.add_argument("service", nargs="?", choices=["opensearch", "elasticmq"])
    arguments = parser.parse_args()
    command = arguments.command
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    if command in ("start", "stop"):
        if not arguments.service:
            parser.error(f"{command} needs a service: opensearch or elasticmq")
        {"start": start_one, "stop": stop}[command](arguments.service)
    elif command == "fetch":
        fetch_opensearch()
        fetch_elasticmq()
    else:
        {"up": up, "down": down, "status": status}[command]()


if __name__ == "__main__":
    main()
