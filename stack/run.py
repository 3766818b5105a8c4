"""`make run`: the whole app on the local stack, in the foreground.

Starts OpenSearch and ElasticMQ, creates the index, then runs gunicorn on
http://127.0.0.1:5000 and one Celery worker. Ctrl-C stops everything it
started, the services included. RUN_PORT moves the web port; the stack's own
STACK_*_PORT variables move the services, and the app follows them.
"""

import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
STACK = [sys.executable, str(ROOT / "stack" / "stack.py")]
PORT = int(os.environ.get("RUN_PORT", "5000"))
OPENSEARCH_PORT = os.environ.get("STACK_OPENSEARCH_PORT", "9200")
ELASTICMQ_PORT = os.environ.get("STACK_ELASTICMQ_PORT", "9324")
WEB = [
    BIN / "gunicorn",
    "--bind",
    f"127.0.0.1:{PORT}",
    "--workers",
    "2",
    "--threads",
    "4",
    "application:application",
]
WORKER = [
    BIN / "celery",
    "-A",
    "tasks",
    "worker",
    "--loglevel=INFO",
    "--pool",
    "threads",
    "--concurrency",
    "16",
]


def local_secret(name):
    """A random value kept in .stack/, so sessions survive a restart."""
    path = ROOT / ".stack" / name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def environment():
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", local_secret("secret-key"))
    env.setdefault("OPENSEARCH_URL", f"http://127.0.0.1:{OPENSEARCH_PORT}")
    env.setdefault("CELERY_BROKER_URL", f"sqs://local:local@127.0.0.1:{ELASTICMQ_PORT}")
    env.setdefault("GEO_PROVIDER", "mmdb")
    env.setdefault("GEO_MMDB_PATH", str(ROOT / "data" / "dbip-city-lite.mmdb"))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


APP_SETTINGS = (
    "SECRET_KEY",
    "OPENSEARCH_URL",
    "CELERY_BROKER_URL",
    "GEO_PROVIDER",
    "GEO_MMDB_PATH",
    "SURVEY_ANALYSTS",
)


def write_app_env(env):
    """The settings `make run` chose, for `flask` commands run beside it:
    `set -a; . .stack/app.env; set +a`."""
    path = ROOT / ".stack" / "app.env"
    lines = [f"{name}={shlex.quote(env[name])}" for name in APP_SETTINGS]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def local_analyst(env):
    """Unless SURVEY_ANALYSTS is set, the login `analyst` with a random password
    kept in .stack/analyst-password; returns that password, or None."""
    if env.get("SURVEY_ANALYSTS"):
        return None
    from werkzeug.security import generate_password_hash

    password = local_secret("analyst-password")
    env["SURVEY_ANALYSTS"] = f"analyst:{generate_password_hash(password)}"
    return password


def start(command, env):
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def stop(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_stop(processes, env):
    """Until Ctrl-C or SIGTERM. A worker that dies is started again, as a
    supervisor would; its unacknowledged tasks come back from the queue.
    If the web server dies, everything stops."""
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.append(True))
    restarts = []
    while not stopping:
        if processes[0].poll() is not None:
            print(f"run: gunicorn exited ({processes[0].returncode})")
            return 1
        if processes[1].poll() is not None:
            restarts = [at for at in restarts if at > time.monotonic() - 60]
            if len(restarts) >= 5:
                print("run: the worker keeps exiting; stopping")
                return 1
            print(f"run: the worker exited ({processes[1].returncode}); restarting")
            restarts.append(time.monotonic())
            processes[1] = start(WORKER, env)
        time.sleep(0.5)
    return 0


def main():
    subprocess.run([*STACK, "up"], check=True)
    env = environment()
    password = local_analyst(env)
    write_app_env(env)
    processes = []
    status = 1
    try:
        subprocess.run(
            [BIN / "flask", "--app", "application", "init-index"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        processes.append(start(WEB, env))
        processes.append(start(WORKER, env))
        print(f"run: the quiz is at http://127.0.0.1:{PORT} (Ctrl-C stops all)")
        if password:
            print(
                f"run: analysts sign in at http://127.0.0.1:{PORT}/login as "
                f"analyst / {password} (kept in .stack/analyst-password)"
            )
        status = wait_for_stop(processes, env)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nrun: stopping", flush=True)
        stop(processes)
        subprocess.run([*STACK, "down"], check=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
